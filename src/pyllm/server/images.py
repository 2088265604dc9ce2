"""Image inputs of the three APIs, reduced to one content part shape, and URL images fetched.

A request's messages carry each image as a content part ``{"type": "image", "data": bytes,
"media_type": str, "where": str}`` (base64 and ``data:`` URIs, decoded here) or ``{"type":
"image", "url": str, "where": str}`` (an http(s) URL, fetched by :func:`resolve_images` off
the event loop). ``where`` names the place in the request for error messages. Whether the
bytes are an image of a readable format, the declared type matches and the pixel count is
within the limit is checked natively, where mtmd decodes them (csrc/engine/projector.cpp).

URL fetching refuses what would turn a server exposed on a network into a way into it:
schemes other than http(s), redirects elsewhere, and addresses on loopback, private,
link-local and other non-public ranges (unless ``--allow-private-image-urls``). The address a
host name resolves to is checked, then connected to, so a second resolution cannot swap in
another one.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import http.client
import ipaddress
import socket
import ssl
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

MAX_REDIRECTS = 5


@dataclass(frozen=True)
class ImageOptions:
    """What the server accepts (``pyllm serve`` flags)."""

    max_bytes: int = 20 * 2**20        # --image-max-bytes: one image's file size
    url_timeout: float = 10.0          # --image-url-timeout: seconds for one URL, redirects included
    allow_private_urls: bool = False   # --allow-private-image-urls


class ImageRequestError(Exception):
    """A bad image input: answered as 400 in the route's error shape, naming where it was."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param


NO_PROJECTOR = ("image input needs a vision model: this server was started without a multimodal "
                "projector (start it with --mmproj FILE)")


def _size_error(n_bytes: int, options: ImageOptions, where: str) -> ImageRequestError:
    return ImageRequestError(f"the image is {n_bytes} bytes, more than the {options.max_bytes} this server "
                             "accepts (--image-max-bytes)", where)


def from_base64(data: Any, media_type: Any, where: str, options: ImageOptions) -> dict[str, Any]:
    """An image part from base64 text (Anthropic ``source.data``, a ``data:`` URI's payload)."""
    if not isinstance(data, str) or not data:
        raise ImageRequestError("the image needs its base64 'data'", where)
    if media_type is not None and not isinstance(media_type, str):
        raise ImageRequestError("'media_type' must be a string", where)
    if len(data) // 4 * 3 > options.max_bytes + 3:
        raise _size_error(len(data) // 4 * 3, options, where)
    try:
        raw = base64.b64decode("".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ImageRequestError("the image data is not valid base64", where) from None
    if len(raw) > options.max_bytes:
        raise _size_error(len(raw), options, where)
    return {"type": "image", "data": raw, "media_type": media_type or "", "where": where}


def from_url(url: Any, where: str, options: ImageOptions) -> dict[str, Any]:
    """An image part from a URL: a base64 ``data:`` URI now, an http(s) URL when resolved."""
    if not isinstance(url, str) or not url:
        raise ImageRequestError("the image needs a 'url'", where)
    if url[:5].lower() == "data:":
        header, comma, payload = url[5:].partition(",")
        if not comma or not header.lower().endswith(";base64"):
            raise ImageRequestError("a data: URI image must be base64 (data:image/png;base64,...)", where)
        return from_base64(payload, header[: -len(";base64")] or None, where, options)
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise ImageRequestError(f"image URLs must be http(s) or data: URIs, not {scheme or 'a relative URL'!r}",
                                where)
    return {"type": "image", "url": url, "where": where}


def image_parts(messages: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The image parts of the messages, in order."""
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and part.get("type") == "image":
                    yield part


async def resolve_images(messages: list[dict[str, Any]], options: ImageOptions, vision: bool) -> None:
    """Fetches the URL images of the messages (in place), off the event loop. Raises
    ImageRequestError for an image sent to a server without a projector, and for a URL
    that cannot or may not be fetched."""
    parts = list(image_parts(messages))
    if parts and not vision:
        raise ImageRequestError(NO_PROJECTOR, parts[0]["where"])
    for part in parts:
        if "url" in part:
            data, media_type = await asyncio.to_thread(fetch_image, part["url"], part["where"], options)
            part.pop("url")
            part.update(data=data, media_type=media_type)


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to an address checked beforehand instead of resolving the host again."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _address_for(host: str, port: int, options: ImageOptions, where: str) -> str:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise ImageRequestError(f"cannot resolve the image URL's host {host!r}: {e}", where) from None
    addresses = [info[4][0] for info in infos]
    if not options.allow_private_urls:
        for address in addresses:
            if not _public(address):
                raise ImageRequestError(
                    f"the image URL's host {host!r} is on a loopback, private or otherwise non-public address "
                    f"({address}); this server fetches those only with --allow-private-image-urls", where)
    return addresses[0]


def fetch_image(url: str, where: str, options: ImageOptions) -> tuple[bytes, str]:
    """(bytes, content type) of an http(s) image URL, within the size cap and the timeout;
    redirects are followed (to http(s) only, each hop checked like the first)."""
    deadline = time.monotonic() + options.url_timeout
    for _ in range(MAX_REDIRECTS + 1):
        parts = urllib.parse.urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise ImageRequestError(f"the image URL redirected to a {scheme or 'relative'!r} URL; only http(s) is "
                                    "followed", where)
        host = parts.hostname
        if not host:
            raise ImageRequestError("the image URL has no host", where)
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise ImageRequestError("the image URL has an invalid port", where) from None
        address = _address_for(host, port, options, where)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ImageRequestError(f"fetching the image URL took more than {options.url_timeout:g} s "
                                    "(--image-url-timeout)", where)
        kind = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
        conn = kind(host, port, address, remaining)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        try:
            conn.request("GET", path, headers={"User-Agent": "pyllm", "Accept": "image/*"})
            response = conn.getresponse()
            if response.status in (301, 302, 303, 307, 308):
                location = response.getheader("Location")
                if not location:
                    raise ImageRequestError(f"the image URL answered {response.status} without a Location", where)
                url = urllib.parse.urljoin(url, location)
                continue
            if response.status != 200:
                raise ImageRequestError(f"the image URL answered HTTP {response.status} {response.reason}", where)
            content_type = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
            if not content_type.startswith("image/"):
                raise ImageRequestError(f"the image URL's content type is {content_type or 'missing'!r}, "
                                        "not an image type", where)
            length = response.getheader("Content-Length")
            if length and length.isdigit() and int(length) > options.max_bytes:
                raise _size_error(int(length), options, where)
            data = bytearray()
            while len(data) <= options.max_bytes:
                if time.monotonic() > deadline:
                    raise TimeoutError
                block = response.read(min(65536, options.max_bytes + 1 - len(data)))
                if not block:
                    break
                data += block
            if len(data) > options.max_bytes:
                raise _size_error(len(data), options, where)
            return bytes(data), content_type
        except ImageRequestError:
            raise
        except (TimeoutError, socket.timeout):
            raise ImageRequestError(f"fetching the image URL took more than {options.url_timeout:g} s "
                                    "(--image-url-timeout)", where) from None
        except (OSError, http.client.HTTPException) as e:
            raise ImageRequestError(f"cannot fetch the image URL: {e}", where) from None
        finally:
            conn.close()
    raise ImageRequestError(f"the image URL redirected more than {MAX_REDIRECTS} times", where)


def joined(pieces: list[str | dict[str, Any]], separator: str) -> str | list[dict[str, Any]]:
    """A message's content from its text pieces and image parts, in order: the texts joined
    by the API's separator, as a string when there is no image (the text-only prompt stays
    what it always was), else a list of text and image parts."""
    if not any(isinstance(p, dict) for p in pieces):
        return separator.join(p for p in pieces if isinstance(p, str))
    parts: list[dict[str, Any]] = []
    texts: list[str] = []
    for piece in pieces:
        if isinstance(piece, str):
            texts.append(piece)
            continue
        if texts:
            parts.append({"type": "text", "text": separator.join(texts)})
            texts = []
        parts.append(piece)
    if texts:
        parts.append({"type": "text", "text": separator.join(texts)})
    return parts


def concatenated(first: str | list[dict[str, Any]], second: str | list[dict[str, Any]],
                 separator: str) -> str | list[dict[str, Any]]:
    """Two messages' contents as one (consecutive turns of a role merge), the texts either
    side of the seam joined by ``separator``."""
    if isinstance(first, str) and isinstance(second, str):
        return f"{first}{separator}{second}" if first else second

    def pieces(content: str | list[dict[str, Any]]) -> list[str | dict[str, Any]]:
        if isinstance(content, str):
            return [content] if content else []
        return [p["text"] if p.get("type") == "text" else p for p in content]

    a, b = pieces(first), pieces(second)
    if a and b and isinstance(a[-1], str) and isinstance(b[0], str):
        a[-1] = a[-1] + separator + b.pop(0)
    merged: list[str | dict[str, Any]] = []
    for piece in a + b:
        if merged and isinstance(piece, str) and isinstance(merged[-1], str):
            merged[-1] += piece
        else:
            merged.append(piece)
    return joined(merged, "")

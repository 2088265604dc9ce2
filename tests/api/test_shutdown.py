"""SIGTERM / SIGINT while streams run: the server stops accepting, lets running requests
finish within --shutdown-grace, ends the rest with the API's own error event, exits 0."""
from __future__ import annotations

import json
import signal
import threading
import time

import httpx
import pytest

from .anthropic.conftest import validate_stream
from ..serving import PyllmServer

ENDLESS = 'root ::= [a-z ] root'  # never complete: generation runs until max_tokens


class Stream(threading.Thread):
    """One streamed request read to its end on a thread; ``started`` once content arrived."""

    def __init__(self, server: PyllmServer, api: str, max_tokens: int, grammar: str | None) -> None:
        super().__init__(daemon=True)
        self.api = api
        self.url = server.base_url + ("/v1/messages" if api == "anthropic" else "/v1/chat/completions")
        self.body = {"model": "any", "max_tokens": max_tokens, "stream": True,
                     "messages": [{"role": "user", "content": "Tell a long story"}],
                     **({"grammar": grammar} if grammar else {})}
        self.started = threading.Event()
        self.text = ""
        self.error: BaseException | None = None
        self.ended = 0.0  # time.monotonic() at the end of the response

    def run(self) -> None:
        try:
            with httpx.stream("POST", self.url, json=self.body, timeout=60) as r:
                assert r.status_code == 200
                for chunk in r.iter_text():
                    self.text += chunk
                    if "delta" in self.text:
                        self.started.set()
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.error = e
        self.ended = time.monotonic()
        self.started.set()

    def openai_frames(self) -> list[str]:
        return [line[6:] for line in self.text.splitlines() if line.startswith("data: ")]


def run_streams(server: PyllmServer, apis: list[str], max_tokens: int, grammar: str | None,
                sig: int = signal.SIGTERM) -> tuple[list[Stream], int, float]:
    """Start the streams, signal the server once all have content; the streams, the exit
    status and when the server exited (time.monotonic())."""
    streams = [Stream(server, api, max_tokens, grammar) for api in apis]
    for s in streams:
        s.start()
    for s in streams:
        assert s.started.wait(60), "stream did not start"
    assert httpx.get(server.base_url + "/health").json()["slots_processing"] == len(streams)
    server.proc.send_signal(sig)
    code = server.proc.wait(timeout=150)
    exited = time.monotonic()
    for s in streams:
        s.join(10)
        assert s.error is None, s.error
    return streams, code, exited


@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_sigterm_ends_running_streams_with_an_error_event_and_exits_0(api):
    server = PyllmServer(["-np", "4", "-c", "8192", "--shutdown-grace", "0.5"])
    try:
        streams, code, _ = run_streams(server, [api] * 4, max_tokens=2000, grammar=ENDLESS)
        assert code == 0, server.output()
        for s in streams:
            if api == "openai":
                frames = s.openai_frames()
                assert frames[-1] == "[DONE]"
                error = json.loads(frames[-2])["error"]
                assert error["code"] == "server_shutting_down" and error["type"] == "unavailable_error"
                assert all("choices" in json.loads(f) for f in frames[:-2])
            else:
                assert validate_stream(s.text)["error"]["type"] == "overloaded_error"
        assert "Traceback" not in server.output()
    finally:
        server.stop()


def test_sigint_lets_streams_that_end_within_the_grace_period_finish():
    server = PyllmServer(["-np", "4", "-c", "8192", "--shutdown-grace", "120"])
    try:
        streams, code, exited = run_streams(server, ["openai", "anthropic"] * 2, max_tokens=16,
                                            grammar=ENDLESS, sig=signal.SIGINT)
        assert code == 0, server.output()
        assert exited - max(s.ended for s in streams) < 5, "exits once its streams end, not after the grace period"
        for s in streams:
            if s.api == "openai":
                frames = s.openai_frames()
                assert frames[-1] == "[DONE]"
                assert json.loads(frames[-2])["choices"][0]["finish_reason"] == "length"
            else:
                message = validate_stream(s.text)
                assert message["stop_reason"] == "max_tokens" and message["usage"]["output_tokens"] == 16
        assert "Traceback" not in server.output()
    finally:
        server.stop()

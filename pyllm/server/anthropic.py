"""The Anthropic Messages API (routes, request validation, error shape).

``/v1/messages`` and ``/v1/messages/count_tokens`` land here (issue 6); the per-request
block state lives in the native Anthropic encoder.
"""
from __future__ import annotations

from typing import Any

from starlette.routing import Route


def routes(state: Any) -> list[Route]:
    return []

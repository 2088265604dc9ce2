"""What the server logs: one structured line per request, as text or JSON lines.

A route that submits a generation attaches its task to the request's record
(:func:`track`); when the response has ended, the middleware logs the record with the
task's token counts and time to first token.
"""
from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from pyllm.engine import Task, TaskResult

request_log = logging.getLogger("pyllm.request")

_SCOPE_KEY = "pyllm.request"


@dataclass
class RequestRecord:
    id: str
    method: str
    route: str
    started: float  # time.monotonic()
    status: int = 0
    task: Task | None = None

    def fields(self, result: TaskResult | None) -> dict[str, Any]:
        """The request's log fields; token counts and TTFT from its generation's ``result``."""
        fields: dict[str, Any] = {"request_id": self.id, "method": self.method, "route": self.route,
                                  "status": self.status,
                                  "duration_ms": round((time.monotonic() - self.started) * 1000, 1)}
        if self.task is not None and result is not None:
            fields.update(prompt_tokens=result.usage.prompt_tokens, cached_tokens=result.usage.cached_tokens,
                          generated_tokens=result.usage.completion_tokens,
                          finish=result.finish_reason if self.task.done else "cancelled")
            if result.timings.prefill_ms > 0:
                fields["ttft_ms"] = round(result.timings.queue_ms + result.timings.prefill_ms, 1)
        return fields


def attach(scope: dict[str, Any], record: RequestRecord) -> None:
    scope[_SCOPE_KEY] = record


def track(request: Request, task: Task) -> Task:
    """Note that ``request`` runs ``task`` (for its log line and the token metrics)."""
    record = request.scope.get(_SCOPE_KEY)
    if record is not None:
        record.task = task
    return task


def arrival(request: Request) -> float:
    """When the request arrived (time.monotonic()); its time limit counts from here."""
    record = request.scope.get(_SCOPE_KEY)
    return record.started if record is not None else time.monotonic()


def log_request(record: RequestRecord, result: TaskResult | None) -> None:
    fields = record.fields(result)
    text = " ".join(f"{k}={v}" for k, v in fields.items() if k not in ("method", "route", "status"))
    request_log.info("%s %s %s %s", record.method, record.route, record.status, text, extra={"fields": fields})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and a record's ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(log_format: str) -> None:
    """Send every logger (pyllm's and uvicorn's) to stderr in ``log_format`` (text or json)."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def request_id(request: Request | None) -> str:
    """The id the middleware gave ``request`` (also its ``x-request-id`` header)."""
    record = request.scope.get(_SCOPE_KEY) if request is not None else None
    return record.id if record is not None else "-"

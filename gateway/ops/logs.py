"""Structured logs: one line per request, one per upstream call, never a key or a header.

``configure_logging`` puts one handler on the root logger, so the gateway's, uvicorn's and any
library's records come out alike: JSON lines, or a readable line when stderr is a terminal
(``logging.format = "auto"``). The gateway's own lines carry their fields as
``extra={"fields": {...}}``; the request line lists only what ``RequestRecord`` holds (the caller
by name), and the upstream line only the endpoint template, so neither can leak a credential.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from gateway.ops.observe import current_request_id

if TYPE_CHECKING:
    from collections.abc import Callable

    from adapters.engine import CallRecord
    from gateway.config import LoggingConfig
    from gateway.ops.observe import RequestRecord

__all__ = [
    "ACCESS_LOGGER",
    "SUMMARY_LOGGER",
    "UPSTREAM_LOGGER",
    "BackgroundTrafficSummary",
    "JSONFormatter",
    "RequestLog",
    "TextFormatter",
    "configure_logging",
    "log_upstream_call",
]

ACCESS_LOGGER = "gateway.access"
UPSTREAM_LOGGER = "gateway.upstream"
SUMMARY_LOGGER = "gateway.demo"
WEBHOOK_PATH_PREFIX = "/webhooks/"
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
"""Probed every few seconds: logged at DEBUG unless they fail."""
CHATTY_LIBRARIES = ("httpx", "httpcore")
"""They log every request at INFO; our upstream line says the same without the host."""
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")

_IN_TEXT_MESSAGE = frozenset({"event", "source", "method", "path", "status"})
"""Fields the readable line already shows in its message."""

_access = logging.getLogger(ACCESS_LOGGER)
_upstream = logging.getLogger(UPSTREAM_LOGGER)
_installed: logging.Handler | None = None


class JSONFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, then the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(_fields(record))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """``12:00:01.123 INFO    gateway.access  POST /graphql 200  outcome=ok …`` for a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        text = f"{when} {record.levelname:<7} {record.name}  {record.getMessage()}"
        extras = " ".join(
            f"{key}={value}"
            for key, value in _fields(record).items()
            if value is not None and key not in _IN_TEXT_MESSAGE
        )
        if extras:
            text = f"{text}  {extras}"
        if record.exc_info:
            text = f"{text}\n{self.formatException(record.exc_info)}"
        return text


_STANDARD_ATTRIBUTES = frozenset(
    {
        *logging.LogRecord("", 0, "", 0, "", None, None).__dict__,
        "message",
        "asctime",
        "taskName",
        "color_message",  # uvicorn's message again, with terminal colour codes
    }
)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """Our ``fields``, plus whatever other code passed as ``extra=`` (e.g. a breaker's state)."""
    extras = {
        key: value
        for key, value in record.__dict__.items()
        if key not in _STANDARD_ATTRIBUTES and key != "fields"
    }
    fields = getattr(record, "fields", None)
    if isinstance(fields, dict):
        extras.update(fields)
    return extras


def configure_logging(config: LoggingConfig, stream: TextIO | None = None) -> logging.Handler:
    """Send every record to ``stream`` (stderr) in the configured format; replaces a previous call's."""
    global _installed
    stream = stream if stream is not None else sys.stderr
    text = config.format == "text" or (config.format == "auto" and _is_terminal(stream))
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TextFormatter() if text else JSONFormatter())
    root = logging.getLogger()
    if _installed is not None:
        root.removeHandler(_installed)
    root.addHandler(handler)
    root.setLevel(config.level.upper())
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in UVICORN_LOGGERS:
        # A uvicorn.Config with the default log_config (the sandbox's, say) gives these their own
        # handlers; hand them back to the root's so every line has one format.
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    _installed = handler
    return handler


class BackgroundTrafficSummary(logging.Filter):
    """Holds back the lines of traffic nobody asked for at the terminal (``gateway demo``'s own
    webhooks, and the upstream reads they and the polls cause), and sums them up in one line every
    ``interval_s`` (never when 0): otherwise they scroll the demo's banner away every few seconds.

    Failures still show (an access line of 400 and up, an upstream line above INFO), and so does
    everything a person's own requests cause. The summary goes out with the next held-back line
    after the interval, so a quiet demo prints nothing at all.
    """

    def __init__(self, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval_s = interval_s
        self.clock = clock
        self.webhooks = 0
        self.upstream_reads = 0
        self._since = clock()
        self._summary = logging.getLogger(SUMMARY_LOGGER)

    def filter(self, record: logging.LogRecord) -> bool:
        fields = getattr(record, "fields", None)
        if not isinstance(fields, dict) or record.levelno > logging.INFO:
            return True
        if record.name == ACCESS_LOGGER and _is_webhook(fields):
            self.webhooks += 1
        elif record.name == UPSTREAM_LOGGER and fields.get("request_id") is None:
            self.upstream_reads += 1
        else:
            return True
        self._maybe_summarize()
        return False

    def _maybe_summarize(self) -> None:
        now = self.clock()
        elapsed = now - self._since
        if self.interval_s <= 0 or elapsed < self.interval_s:
            return
        webhooks, reads = self.webhooks, self.upstream_reads
        self.webhooks = self.upstream_reads = 0
        self._since = now
        self._summary.info(
            "background traffic in the last %.0f s: %d webhooks received, %d upstream reads "
            "(logged as this one line)",
            elapsed,
            webhooks,
            reads,
            extra={
                "fields": {
                    "event": "background_summary",
                    "webhooks": webhooks,
                    "upstream_reads": reads,
                }
            },
        )


def _is_webhook(fields: dict[str, Any]) -> bool:
    path, status = fields.get("path"), fields.get("status")
    return (
        isinstance(path, str)
        and path.startswith(WEBHOOK_PATH_PREFIX)
        and isinstance(status, int)
        and status < 400
    )


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class RequestLog:
    """The request line, written when the response has gone out."""

    def request_started(self, record: RequestRecord) -> None:
        pass

    def request_finished(self, record: RequestRecord) -> None:
        if record.path == "/readyz" and record.status == 503:
            level = logging.WARNING  # not ready while a dependency is away: expected, reported
        elif record.status >= 500:
            level = logging.ERROR
        elif record.path in QUIET_PATHS and record.status < 400:
            level = logging.DEBUG
        else:
            level = logging.INFO
        if not _access.isEnabledFor(level):
            return
        fields = {
            "event": "request",
            "request_id": record.request_id,
            "method": record.method,
            "path": record.path,
            "status": record.status,
            "duration_ms": round(record.duration_s * 1000, 1),
            "outcome": record.outcome,
            "operation": record.operation,
            "caller": record.caller,
        }
        _access.log(
            level,
            "%s %s %d",
            record.method,
            record.path,
            record.status,
            extra={"fields": fields},
        )


def log_upstream_call(record: CallRecord) -> None:
    """The upstream line: a CallRecord observer (the template, never the path with its ids)."""
    failed = record.error_code is not None and record.error_code.startswith("UPSTREAM_")
    level = logging.WARNING if failed else logging.INFO
    if not _upstream.isEnabledFor(level):
        return
    fields = {
        "event": "upstream_call",
        "request_id": current_request_id.get(),
        "source": record.source,
        "method": record.method,
        "path": record.template,
        "status": record.status,
        "duration_ms": round(record.duration_s * 1000, 1),
        "attempt": getattr(record, "attempt", 1),
        "error_code": record.error_code,
    }
    _upstream.log(
        level,
        "%s %s %s %s",
        record.source,
        record.method,
        record.template,
        record.status if record.status is not None else "-",
        extra={"fields": fields},
    )

"""Upstream failures, by what the caller can do about them.

AdapterError
├── PayloadError               (parse: a payload missing what the model needs; becomes BadResponse)
├── UnsupportedOperation       UNSUPPORTED             (this kind of upstream cannot do that)
└── UpstreamError
    ├── ExecutionNotFound      NOT_FOUND               (the upstream says there is no such thing)
    ├── UpstreamRejected       BAD_USER_INPUT          (400/422: the upstream refused the id or body)
    ├── CallBudgetSpent        BAD_USER_INPUT          (not sent: the operation used its upstream calls)
    ├── UpstreamConflict       CONFLICT                (409, FAILED_PRECONDITION: e.g. already decided)
    ├── UpstreamForbidden      FORBIDDEN               (the upstream refuses this reviewer/actor)
    ├── UpstreamAuthFailed     UPSTREAM_AUTH           (401/403: the gateway's credentials)
    ├── UpstreamRateLimited    UPSTREAM_RATE_LIMITED   (429, RESOURCE_EXHAUSTED; retry_after)
    ├── UpstreamTimeout        UPSTREAM_TIMEOUT        (no answer in time)
    ├── UpstreamUnavailable    UPSTREAM_UNAVAILABLE    (5xx, refused, reset, breaker open)
    └── UpstreamBadResponse    UPSTREAM_BAD_RESPONSE   (a body we cannot parse)

Messages never carry credentials, header values or full upstream URLs: only the source name,
the native id, the HTTP status and the upstream's own error code.
"""

from __future__ import annotations

__all__ = [
    "AdapterError",
    "CallBudgetSpent",
    "ExecutionNotFound",
    "PayloadError",
    "UnsupportedOperation",
    "UpstreamAuthFailed",
    "UpstreamBadResponse",
    "UpstreamConflict",
    "UpstreamError",
    "UpstreamForbidden",
    "UpstreamRateLimited",
    "UpstreamRejected",
    "UpstreamTimeout",
    "UpstreamUnavailable",
]


class AdapterError(Exception):
    """Base of everything an adapter raises on purpose."""


class PayloadError(AdapterError):
    """A payload lacks what the model needs (raised by the pure parsers)."""


class UnsupportedOperation(AdapterError):
    """The upstream kind has no such operation (e.g. approvals on Truthlocks)."""

    code = "UNSUPPORTED"


class UpstreamError(AdapterError):
    """An upstream call did not give us what we asked for."""

    code = "UPSTREAM_UNAVAILABLE"
    retryable = False
    summary = "upstream failed"

    def __init__(
        self,
        detail: str | None = None,
        *,
        source: str | None = None,
        native_id: str | None = None,
        http_status: int | None = None,
        upstream_code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.detail = detail
        self.source = source
        self.native_id = native_id
        self.http_status = http_status
        self.upstream_code = upstream_code
        self.retry_after = retry_after
        super().__init__(self.message)

    @property
    def message(self) -> str:
        where = f"source '{self.source}'" if self.source else "upstream"
        parts = [f"{where}: {self.summary}"]
        if self.native_id is not None:
            parts.append(f"for id '{self.native_id}'")
        if self.http_status is not None:
            parts.append(
                f"(HTTP {self.http_status}{', ' + self.upstream_code if self.upstream_code else ''})"
            )
        elif self.upstream_code:
            parts.append(f"({self.upstream_code})")
        text = " ".join(parts)
        return f"{text}: {self.detail}" if self.detail else text

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(source={self.source!r}, native_id={self.native_id!r}, "
            f"http_status={self.http_status!r}, upstream_code={self.upstream_code!r})"
        )


class ExecutionNotFound(UpstreamError):
    code = "NOT_FOUND"
    summary = "not found"


class UpstreamRejected(UpstreamError):
    code = "BAD_USER_INPUT"
    summary = "the upstream rejected the request"


class CallBudgetSpent(UpstreamError):
    """Not sent: the operation has made every upstream call it may (``adapters.engine.CallBudget``)."""

    code = "BAD_USER_INPUT"
    summary = "not called, this operation has made the upstream calls it may"


class UpstreamConflict(UpstreamError):
    code = "CONFLICT"
    summary = "the upstream refused the change in its current state"


class UpstreamForbidden(UpstreamError):
    code = "FORBIDDEN"
    summary = "the upstream does not allow this actor to do that"


class UpstreamAuthFailed(UpstreamError):
    code = "UPSTREAM_AUTH"
    summary = "the upstream refused the gateway's credentials"


class UpstreamRateLimited(UpstreamError):
    code = "UPSTREAM_RATE_LIMITED"
    summary = "rate limited by the upstream"
    retryable = True


class UpstreamTimeout(UpstreamError):
    code = "UPSTREAM_TIMEOUT"
    summary = "the upstream did not answer in time"
    retryable = True


class UpstreamUnavailable(UpstreamError):
    code = "UPSTREAM_UNAVAILABLE"
    summary = "the upstream is unavailable"
    retryable = True


class UpstreamBadResponse(UpstreamError):
    code = "UPSTREAM_BAD_RESPONSE"
    summary = "the upstream sent a response the gateway cannot read"

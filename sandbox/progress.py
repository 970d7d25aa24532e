"""The sandbox comes alive: running executions finish over time, and the gateway hears of it.

``Progress.advance`` finishes one running execution per kind (a Velt run that waits for a human
stays until its decision: the stores move a decided run on themselves). ``changes`` compares
every execution with what it was at the last look and names the webhook events each kind
documents for what changed (Rotavision: completed/failed only; Zaia: none), decisions included.
``run`` does both every ``interval`` seconds and sends the events signed (sandbox/webhooks.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sandbox.webhooks import WebhookEvent

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from sandbox.app import Sandbox
    from sandbox.webhooks import WebhookSender

__all__ = ["Progress", "with_progress"]

Fingerprint = tuple[str, tuple[tuple[str, str], ...]]
_TERMINAL = {"completed", "failed", "cancelled", "timeout", "succeeded", "error"}


def _iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Progress:
    def __init__(self, sandbox: Sandbox, sender: WebhookSender | None = None) -> None:
        self._sandbox = sandbox
        self.sender = sender
        self._seen = self._fingerprints()
        self.advanced = 0

    def _runs(self) -> dict[str, dict[str, dict[str, Any]]]:
        sandbox = self._sandbox
        return {
            "rotavision": sandbox.rotavision.executions,
            "velt": sandbox.velt.executions,
            "truthlocks": sandbox.truthlocks.orchestrations,
            "nesting": sandbox.nesting.executions,
        }

    def _started(self) -> dict[str, list[str]]:
        sandbox = self._sandbox
        return {
            "rotavision": sandbox.rotavision.started,
            "velt": sandbox.velt.started,
            "truthlocks": sandbox.truthlocks.started,
            "nesting": [],
        }

    def _fingerprints(self) -> dict[tuple[str, str], Fingerprint]:
        found: dict[tuple[str, str], Fingerprint] = {}
        for kind, runs in self._runs().items():
            for native_id, run in runs.items():
                steps = tuple(
                    (str(s.get("stepId") or s.get("id") or i), str(s.get("status")))
                    for i, s in enumerate(run.get("steps") or [])
                    if isinstance(s, dict)
                )
                found[(kind, native_id)] = (str(run.get("status")), steps)
        return found

    # -- moving on ------------------------------------------------------------------------

    def finish(self, kind: str, native_id: str) -> bool:
        """Complete one running execution; False when it is not one that can finish alone."""
        run = self._runs()[kind].get(native_id)
        if run is None or run.get("status") not in ("running", "pending"):
            return False
        if kind == "velt" and any(
            s.get("nodeType") == "human" and s.get("status") == "waiting" for s in run["steps"]
        ):
            return False
        if kind == "rotavision" and self._sandbox.rotavision.ask_human(native_id):
            self.advanced += 1  # a started run reaches its human step before it finishes
            return True
        now = _iso()
        if kind == "rotavision":
            steps = run.setdefault("steps", [])
            steps.append(
                {
                    "id": f"step_{len(steps) + 1}",
                    "agent": run.pop("current_step", None) or "responder",
                    "status": "completed",
                    "output": {"finished_by": "sandbox progress"},
                    "duration_ms": 900,
                }
            )
            run.pop("progress", None)
            run.update(status="completed", completed_at=now, outputs={"done": True})
        elif kind == "velt":
            now_ms = int(time.time() * 1000)
            for step in run["steps"]:
                if step.get("status") in ("pending", "running", "waiting"):
                    step.update(status="completed", completedAt=now_ms)
            run.update(status="completed", completedAt=now_ms)
        elif kind == "truthlocks":
            for step in run.get("steps") or []:
                if isinstance(step, dict) and step.get("status") in ("running", "pending"):
                    step["status"] = "completed"
                    step["completed_at"] = now
            run.update(status="completed", completed_at=now)
        else:
            run.update(status="completed", endedAt=now, updatedAt=now)
        self.advanced += 1
        return True

    def advance(self) -> list[tuple[str, str]]:
        """Move on one execution of each kind: runs started through the API first, then the
        oldest-listed running one that can finish alone."""
        finished = []
        started = self._started()
        for kind, runs in self._runs().items():
            first = [i for i in started[kind] if i in runs]
            chosen = set(first)
            for native_id in [*first, *(i for i in runs if i not in chosen)]:
                if self.finish(kind, native_id):
                    finished.append((kind, native_id))
                    break
        return finished

    # -- telling --------------------------------------------------------------------------

    def changes(self) -> list[WebhookEvent]:
        """The documented events for what changed since the last call."""
        now = self._fingerprints()
        events: list[WebhookEvent] = []
        for key, (status, steps) in now.items():
            before = self._seen.get(key)
            if before == (status, steps):
                continue
            kind, native_id = key
            events.extend(_events(kind, native_id, before, status, steps))
        self._seen = now
        return events

    async def tick(self) -> list[WebhookEvent]:
        self.advance()
        events = self.changes()
        if self.sender is not None:
            for event in events:
                await self.sender.send(event)
        return events

    async def run(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.tick()


def _events(
    kind: str,
    native_id: str,
    before: Fingerprint | None,
    status: str,
    steps: tuple[tuple[str, str], ...],
) -> list[WebhookEvent]:
    old_status = before[0] if before else None
    changed = status != old_status
    if kind == "rotavision":
        if changed and status in ("completed", "failed"):
            return [WebhookEvent(kind, native_id, f"workflow.{status}")]
        return []
    if kind == "truthlocks":
        word = {"running": "started", "completed": "completed", "failed": "failed"}.get(status)
        word = word or ("timeout" if status == "timeout" else None)
        return [WebhookEvent(kind, native_id, f"orchestration.{word}")] if changed and word else []
    if kind == "velt":
        events = []
        old_steps = dict(before[1]) if before else {}
        for step_id, step_status in steps:
            if old_steps.get(step_id) == step_status:
                continue
            if step_status == "waiting":
                events.append(WebhookEvent(kind, native_id, "step.awaiting-approval", step_id))
            elif step_status in ("completed", "failed", "cancelled", "breached"):
                events.append(WebhookEvent(kind, native_id, f"step.{step_status}", step_id))
        if changed and status in ("completed", "failed", "cancelled"):
            events.append(WebhookEvent(kind, native_id, f"execution.{status}"))
        return events
    return []  # nesting-style upstreams send no webhooks


def with_progress(app: ASGIApp, progress: Progress, interval: float) -> ASGIApp:
    """``app`` with ``progress.run(interval)`` running for as long as it is served."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        task: asyncio.Task[None] | None = None
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                task = asyncio.create_task(progress.run(interval))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                if progress.sender is not None:
                    await progress.sender.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    return wrapped

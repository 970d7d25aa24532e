"""LangGraph's run webhooks: the body read as an event, the URL each created run is given.

The body is the server's ``call_webhook`` payload (in the installed ``langgraph_api`` package's
``webhook`` module): the run, its final ``status``, ``run_started_at``/``run_ended_at``/
``webhook_sent_at`` and the thread's ``values``. Runs are created over respx; what they send is read from the recorded requests.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import respx

from adapters.base import Credentials, Decision, StartRequest
from adapters.declarations import WEBHOOK_SECRET, UnreadableEvent
from adapters.engine import HTTPSettings
from adapters.langgraph import LangGraphAdapter, LangGraphOptions, read_run_event, run_thread
from adapters.model import Approval, ApprovalStatus, Execution, ExecutionStatus, Workflow
from gateway.config import ConfigError, parse_config

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

BASE = "http://agent.test"
GATEWAY = "https://gateway.example.com/"
SECRET = "whsec_langgraph"
THREAD = "0b9ee3a4-3c57-4f8e-9a41-7d3c1b0b2a11"
RUN = "1f0a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8"
DELIVERY = {
    "run_id": RUN,
    "thread_id": THREAD,
    "assistant_id": "fe096781-5601-53d2-b2f6-0d3403f7e9ca",
    "created_at": "2026-02-01T10:30:00+00:00",
    "updated_at": "2026-02-01T10:30:01+00:00",
    "metadata": {"graph_id": "review"},
    "kwargs": {"input": {"topic": "owls"}, "webhook": f"{GATEWAY}webhooks/lg?token=ab"},
    "multitask_strategy": "reject",
    "status": "success",
    "run_started_at": "2026-02-01T10:30:00.100000+00:00",
    "run_ended_at": "2026-02-01T10:30:00.900000+00:00",
    "webhook_sent_at": "2026-02-01T10:30:00.950000+00:00",
    "values": {"topic": "owls"},
}


def expected_token(thread_id: str = THREAD, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), thread_id.encode(), hashlib.sha256).hexdigest()


# -- the body ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["success", "error", "timeout", "interrupted"])
def test_a_run_end_is_a_known_event_of_its_thread(status: str) -> None:
    event = read_run_event({**DELIVERY, "status": status})
    assert (event.event_id, event.type, event.native_id) == (f"{RUN}:{status}", status, THREAD)
    assert event.known is True
    assert event.sent_at is None  # unsigned: its time proves nothing


@pytest.mark.parametrize("status", ["rollback", "pending", "running", "later"])
def test_another_status_is_read_but_not_known(status: str) -> None:
    event = read_run_event({**DELIVERY, "status": status})
    assert (event.type, event.known) == (status, False)


def test_a_stateless_run_names_no_thread() -> None:
    event = read_run_event({**DELIVERY, "thread_id": None})
    assert event.native_id is None
    assert run_thread({**DELIVERY, "thread_id": None}) is None


@pytest.mark.parametrize(
    "body",
    [
        [],
        "run",
        {"status": "success"},
        {"run_id": RUN},
        {"run_id": "", "status": "success"},
        {"run_id": 7, "status": "success"},
        {"run_id": "r" * 201, "status": "success"},
        {"run_id": RUN, "status": "s" * 201},
    ],
)
def test_a_body_without_a_run_id_and_status_is_unreadable(body: Any) -> None:
    with pytest.raises(UnreadableEvent):
        read_run_event(body)


@pytest.mark.parametrize("thread_id", [None, "", 7, "t" * 201, ["x"]])
def test_a_thread_id_that_is_not_a_short_string_is_none(thread_id: Any) -> None:
    assert run_thread({**DELIVERY, "thread_id": thread_id}) is None
    assert run_thread(None) is None


# -- the URL each created run is given --------------------------------------------------------


@pytest.fixture
def router() -> respx.Router:
    return respx.Router(assert_all_called=False)


def make(router: respx.Router, base_url: str | None, secret: str | None) -> LangGraphAdapter:
    credentials = Credentials(**{WEBHOOK_SECRET: secret})
    adapter = LangGraphAdapter.create(
        name="lg",
        base_url=BASE,
        credentials=credentials,
        settings=HTTPSettings(timeout_s=1.0),
        transport=httpx.MockTransport(router.async_handler),
        options=LangGraphOptions(webhook_base_url=base_url),
    )
    assert isinstance(adapter, LangGraphAdapter)
    return adapter


@pytest.fixture
async def lg(router: respx.Router) -> AsyncIterator[LangGraphAdapter]:
    adapter = make(router, GATEWAY, SECRET)
    yield adapter
    await adapter.aclose()


def sent(route: respx.Route) -> Any:
    return json.loads(route.calls.last.request.content)


async def test_a_start_asks_for_a_webhook_signed_for_its_thread(
    router: respx.Router, lg: LangGraphAdapter
) -> None:
    route = router.post(url__regex=rf"{BASE}/threads/[0-9a-f-]+/runs").respond(200, json={})
    outcome = await lg.start(StartRequest("review", {"topic": "owls"}, idempotency_key="k-1"))
    webhook = sent(route)["webhook"]
    assert webhook == (
        f"https://gateway.example.com/webhooks/lg?token={expected_token(outcome.native_id)}"
    )
    assert outcome.native_id != THREAD


async def test_a_decision_asks_for_a_webhook_signed_for_its_thread(
    router: respx.Router, lg: LangGraphAdapter
) -> None:
    route = router.post(f"{BASE}/threads/{THREAD}/runs").respond(200, json={})
    execution = Execution(
        native_id=THREAD,
        status=ExecutionStatus.WAITING_FOR_APPROVAL,
        upstream_status="interrupted",
        raw={},
        workflow=Workflow("review"),
    )
    approval = Approval(key="i-1", status=ApprovalStatus.PENDING)
    await lg.decide(
        execution, approval, Decision.APPROVE, reviewer_id=None, notes=None, idempotency_key="d-1"
    )
    body = sent(route)
    assert body["webhook"] == f"https://gateway.example.com/webhooks/lg?token={expected_token()}"
    assert body["command"] == {"resume": {"i-1": "approve"}}


async def test_without_a_base_url_no_webhook_is_asked_for(router: respx.Router) -> None:
    route = router.post(url__regex=rf"{BASE}/threads/[0-9a-f-]+/runs").respond(200, json={})
    adapter = make(router, None, SECRET)
    try:
        await adapter.start(StartRequest("review", {}, idempotency_key="k-2"))
    finally:
        await adapter.aclose()
    assert "webhook" not in sent(route)


@pytest.mark.parametrize(
    ("base_url", "secret", "problems"),
    [
        (GATEWAY, None, ["needs webhook_secret_env"]),
        ("gateway.example.com", SECRET, ["must be an http(s) URL"]),
        ("https://g/?a=1", None, ["must be an http(s) URL", "needs webhook_secret_env"]),
        (GATEWAY, SECRET, []),
        (None, None, []),
    ],
)
def test_the_config_refuses_webhook_options_that_could_not_work(
    base_url: str | None, secret: str | None, problems: list[str]
) -> None:
    """Read through the config, so ``check-config`` refuses what starting the source would."""
    source: dict[str, object] = {"name": "lg", "kind": "langgraph", "base_url": BASE}
    env = {}
    if base_url is not None:
        source["webhook_base_url"] = base_url
    if secret is not None:
        source["webhook_secret_env"], env["LG_SECRET"] = "LG_SECRET", secret
    if not problems:
        parse_config({"sources": [source]}, env)
        return
    with pytest.raises(ConfigError) as refused:
        parse_config({"sources": [source]}, env)
    assert len(refused.value.problems) == len(problems)
    for line, expected in zip(refused.value.problems, problems, strict=True):
        assert line.startswith('source "lg": webhook_base_url: '), line
        assert expected in line

"""The Truthlocks-style sandbox, driven in-process by the real TruthlocksAdapter."""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

import httpx
import pytest

from adapters.base import Credentials
from adapters.engine import HTTPSettings
from adapters.errors import ExecutionNotFound, UpstreamAuthFailed, UpstreamRejected
from adapters.model import ExecutionStatus, Money, StepKind, StepStatus
from adapters.truthlocks import TruthlocksAdapter
from sandbox import SANDBOX_CREDENTIALS, Sandbox, SandboxConfig
from sandbox.truthlocks import DEMO_COMPLETED_ID, DOC_EXAMPLE_ID, TruthlocksStore, Variants

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from adapters.base import SourceAdapter

    class AdapterFactory(Protocol):
        def __call__(
            self, api_key: str | None = ..., tenant_id: str | None = ...
        ) -> SourceAdapter: ...


KEY = SANDBOX_CREDENTIALS["truthlocks"]["api_key"]
TENANT = SANDBOX_CREDENTIALS["truthlocks"]["tenant_id"]
SEEDED_A_ID = re.compile(r"maip-orch:[0-9A-HJKMNP-TV-Z]{26}")
UUID_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


@pytest.fixture
def default_sandbox() -> Sandbox:
    return Sandbox()


@pytest.fixture
async def make_adapter(default_sandbox: Sandbox) -> AsyncIterator[AdapterFactory]:
    created: list[SourceAdapter] = []
    app = default_sandbox.app()

    def make(api_key: str | None = KEY, tenant_id: str | None = TENANT) -> SourceAdapter:
        adapter = TruthlocksAdapter.create(
            name="tl",
            base_url="http://sandbox",
            credentials=Credentials(api_key=api_key, tenant_id=tenant_id),
            settings=HTTPSettings(),
            transport=httpx.ASGITransport(app=app),
        )
        created.append(adapter)
        return adapter

    yield make
    for adapter in created:
        await adapter.aclose()


async def test_every_seeded_orchestration_parses(
    default_sandbox: Sandbox, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter()
    variants: Counter[str] = Counter()
    statuses: dict[str, set[str | None]] = {"A": set(), "B": set()}
    for native_id in default_sandbox.truthlocks.orchestrations:
        execution = await adapter.get_execution(native_id)
        assert execution.native_id == native_id
        variant = execution.extra["variant"]
        variants[variant] += 1
        statuses[variant].add(execution.upstream_status)
        assert [s.index for s in execution.steps] == list(range(len(execution.steps)))
        if variant == "A":
            assert 1 <= len(execution.steps) <= 6
            assert [s.native_id for s in execution.steps] == [
                str(n) for n in range(1, len(execution.steps) + 1)
            ]
            assert execution.cost is not None
        if native_id != DOC_EXAMPLE_ID:
            assert all(s.kind is not StepKind.UNKNOWN for s in execution.steps)
        if execution.status is ExecutionStatus.COMPLETED:
            assert execution.receipts
            assert all(s.status is StepStatus.COMPLETED for s in execution.steps)
        if execution.status is ExecutionStatus.UNKNOWN:
            assert execution.upstream_status == "suspended"
    assert variants == {"A": 120, "B": 120}
    assert statuses["A"] == {"running", "completed", "failed", "timeout"}
    assert statuses["B"] == {"pending", "running", "completed", "failed", "cancelled", "suspended"}
    assert default_sandbox.stats.calls["GET /v1/orchestrations/{orchestration_id}"] == 240


async def test_running_prose_orchestrations_list_only_executed_steps(
    default_sandbox: Sandbox, make_adapter: AdapterFactory
) -> None:
    """The page lists "every step executed", each with ``result`` and ``duration_ms``: in a
    running variant-A run they have all ended, and the gateway says so."""
    adapter = make_adapter()
    running = [
        native_id
        for native_id, run in default_sandbox.truthlocks.orchestrations.items()
        if "id" in run and run["status"] == "running"
    ]
    assert running
    for native_id in running:
        raw_steps = default_sandbox.truthlocks.orchestrations[native_id]["steps"]
        assert all(set(s) == {"step_number", "action", "result", "duration_ms"} for s in raw_steps)
        execution = await adapter.get_execution(native_id)
        assert execution.status is ExecutionStatus.RUNNING
        assert all(s.status is StepStatus.COMPLETED for s in execution.steps)
        assert all(s.duration_ms is not None for s in execution.steps)


def test_seeded_ids_have_the_documented_formats(default_sandbox: Sandbox) -> None:
    ids = [
        i
        for i in default_sandbox.truthlocks.orchestrations
        if i not in (DOC_EXAMPLE_ID, DEMO_COMPLETED_ID)
    ]
    a_ids = [i for i in ids if i.startswith("maip-orch:")]
    b_ids = [i for i in ids if not i.startswith("maip-orch:")]
    assert len(a_ids) == len(b_ids) == 119
    assert all(SEEDED_A_ID.fullmatch(i) for i in a_ids)
    assert all(UUID_ID.fullmatch(i) for i in b_ids)


def test_seeding_is_deterministic() -> None:
    def store(seed: int) -> TruthlocksStore:
        return TruthlocksStore(seed=seed, count=40, api_keys=(KEY,), tenant_ids=(TENANT,))

    assert store(7).orchestrations == store(7).orchestrations
    assert list(store(7).orchestrations) != list(store(8).orchestrations)
    assert len(store(7).orchestrations) == 40


async def test_doc_example_resolves(make_adapter: AdapterFactory) -> None:
    execution = await make_adapter().get_execution(DOC_EXAMPLE_ID)
    assert execution.status is ExecutionStatus.PENDING
    assert execution.extra["variant"] == "B"
    assert execution.receipts == ("3c90c3cc-0d44-4b50-8888-8dd25736052a",)
    (step,) = execution.steps
    assert step.kind is StepKind.UNKNOWN
    assert step.upstream_status == "<string>"


async def test_demo_completed_resolves(make_adapter: AdapterFactory) -> None:
    execution = await make_adapter().get_execution(DEMO_COMPLETED_ID)
    assert execution.native_id == "maip-orch:01JDEMO0000000000000000000"
    assert execution.status is ExecutionStatus.COMPLETED
    assert execution.extra["variant"] == "A"
    assert execution.cost is not None
    assert execution.cost.amounts == (Money(Decimal("0.125"), "USD"),)
    assert execution.receipts == ("b7e3f0a2-5c1d-4e8f-9a6b-2d4c8e1f0a37",)
    assert [s.kind for s in execution.steps] == [
        StepKind.GUARDRAIL,
        StepKind.AGENT,
        StepKind.TOOL,
        StepKind.DECISION,
    ]
    assert execution.duration_ms == 1217


async def test_wrong_tenant_is_not_found(make_adapter: AdapterFactory) -> None:
    with pytest.raises(ExecutionNotFound) as caught:
        await make_adapter(tenant_id="tenant_other").get_execution(DEMO_COMPLETED_ID)
    assert caught.value.upstream_code == "NOT_FOUND"


async def test_unknown_id_is_not_found(make_adapter: AdapterFactory) -> None:
    with pytest.raises(ExecutionNotFound):
        await make_adapter().get_execution("maip-orch:01JNOSUCHTHING000000000000")


async def test_id_with_slash_is_not_found(make_adapter: AdapterFactory) -> None:
    with pytest.raises(ExecutionNotFound):
        await make_adapter().get_execution("a/b")


@pytest.mark.parametrize(
    "api_key",
    [pytest.param("tl_live_wrong", id="wrong-key"), pytest.param(None, id="no-key")],
)
async def test_bad_key_is_upstream_auth(make_adapter: AdapterFactory, api_key: str | None) -> None:
    with pytest.raises(UpstreamAuthFailed) as caught:
        await make_adapter(api_key=api_key).get_execution(DEMO_COMPLETED_ID)
    assert caught.value.upstream_code == "UNAUTHORIZED"
    assert caught.value.http_status == 401


async def test_missing_tenant_is_rejected(make_adapter: AdapterFactory) -> None:
    with pytest.raises(UpstreamRejected) as caught:
        await make_adapter(tenant_id=None).get_execution(DEMO_COMPLETED_ID)
    assert caught.value.upstream_code == "INVALID_REQUEST"
    assert caught.value.http_status == 400


def test_small_sandbox_keeps_the_fixed_ids() -> None:
    small = Sandbox(SandboxConfig(executions_per_source=2))
    assert set(small.truthlocks.orchestrations) == {DOC_EXAMPLE_ID, DEMO_COMPLETED_ID}


@pytest.mark.parametrize(("variants", "expected"), [("prose", {"A"}), ("openapi", {"B"})])
async def test_one_documented_schema_can_be_served_alone(
    variants: Variants, expected: set[str]
) -> None:
    config = SandboxConfig(executions_per_source=30, truthlocks_variants=variants)
    sandbox = Sandbox(config)
    adapter = TruthlocksAdapter.create(
        name="tl",
        base_url="http://sandbox",
        credentials=Credentials(api_key=KEY, tenant_id=TENANT),
        settings=HTTPSettings(),
        transport=httpx.ASGITransport(app=sandbox.app()),
    )
    try:
        seen = {
            (await adapter.get_execution(native_id)).extra["variant"]
            for native_id in sandbox.truthlocks.orchestrations
        }
    finally:
        await adapter.aclose()
    assert seen == expected
    assert len(sandbox.truthlocks.orchestrations) == 29

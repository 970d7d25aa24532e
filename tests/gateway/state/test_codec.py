"""Every execution the adapters produce survives the trip through bytes unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import pytest

from adapters import nesting, rotavision, truthlocks, velt
from gateway.state.codec import FORMAT_VERSION, decode_execution, encode_execution
from sandbox import Sandbox

if TYPE_CHECKING:
    from adapters.model import Execution

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def executions() -> list[Execution]:
    seeded = Sandbox()
    found = [rotavision.parse_execution(p) for p in seeded.rotavision.executions.values()]
    found += [truthlocks.parse_execution(p) for p in seeded.truthlocks.orchestrations.values()]
    found += [velt.parse_execution({"result": p}) for p in seeded.velt.executions.values()]
    found += [nesting.parse_execution(p) for p in seeded.nesting.executions.values()]
    found.append(
        rotavision.parse_execution(
            json.loads((FIXTURES / "rotavision" / "get_execution_completed.json").read_text())
        )
    )
    found.append(
        velt.parse_execution(
            json.loads((FIXTURES / "velt" / "get_execution_doc_example.json").read_text())
        )
    )
    return found


def test_every_seeded_and_documented_execution_round_trips() -> None:
    found = executions()
    assert len(found) > 900
    for execution in found:
        assert decode_execution(encode_execution(execution)) == execution


def test_costs_times_and_approvals_are_among_what_round_trips() -> None:
    found = executions()
    assert any(e.cost and e.cost.amounts for e in found)
    assert any(e.approvals for e in found)
    assert any(e.started_at for e in found)


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[]",
        orjson.dumps({"v": FORMAT_VERSION + 1, "execution": {}}),
        orjson.dumps({"v": FORMAT_VERSION, "execution": {"native_id": "x"}}),
        orjson.dumps(
            {
                "v": FORMAT_VERSION,
                "execution": {
                    "native_id": "x",
                    "status": "NOPE",
                    "upstream_status": None,
                    "raw": {},
                },
            }
        ),
    ],
)
def test_a_payload_this_build_did_not_write_is_a_miss(payload: bytes) -> None:
    assert decode_execution(payload) is None

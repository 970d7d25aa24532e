"""A client's ``scope`` in the config (docs/scope.md): read, and refused when wrong."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.config import ConfigError, parse_config
from gateway.demo import demo_raw_config
from gateway.http.auth import authenticate

KEY = "k" * 32


def with_scope(scope: Any) -> tuple[dict[str, Any], dict[str, str]]:
    raw, env = demo_raw_config("http://127.0.0.1:9")
    raw["auth"] = {
        "mode": "api_key",
        "clients": [{"name": "team", "key_env": "TEAM_KEY", "roles": ["viewer"], "scope": scope}],
    }
    return raw, {**env, "TEAM_KEY": KEY}


def test_a_scope_becomes_the_callers() -> None:
    config = parse_config(*with_scope({"rv": ["wf_b", "wf_a", "wf_a"], "velt": "*"}))
    (client,) = config.auth.clients
    assert client.scope == (("rv", ("wf_a", "wf_b")), ("velt", None))
    caller = authenticate(config.auth, f"Bearer {KEY}")
    assert caller is not None
    assert caller.scope is not None
    assert caller.scope.sources(["rv", "velt", "zaia", "tl"]) == ["rv", "velt"]
    assert caller.scope.fingerprint
    assert authenticate(config.auth, f"Bearer {KEY}") is caller  # built once per client


@pytest.mark.parametrize(
    ("scope", "problem"),
    [
        pytest.param({"nowhere": "*"}, "'nowhere' is not a configured source", id="unknown"),
        pytest.param({"rv": []}, 'give "*" (every partition) or a list', id="empty"),
        pytest.param({"rv": "all"}, 'give "*" (every partition) or a list', id="word"),
        pytest.param({"rv": [1]}, 'give "*" (every partition) or a list', id="not-names"),
    ],
)
def test_a_wrong_scope_is_a_problem(scope: Any, problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(*with_scope(scope))
    assert any(problem in p for p in raised.value.problems), raised.value.problems


def test_without_a_scope_a_client_sees_everything() -> None:
    raw, env = with_scope(None)
    del raw["auth"]["clients"][0]["scope"]
    caller = authenticate(parse_config(raw, env).auth, f"Bearer {KEY}")
    assert caller is not None
    assert caller.scope is None

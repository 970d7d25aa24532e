"""``check-config`` reports every problem in one run; a mistyped environment override is named."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from gateway.cli import main
from gateway.config import ConfigError, parse_config

if TYPE_CHECKING:
    from pathlib import Path

ENV = {"RV_API_KEY": "rv-secret"}


def rv(**keys: Any) -> dict[str, Any]:
    return {
        "name": "rv",
        "kind": "rotavision",
        "base_url": "http://x",
        "api_key_env": "RV_API_KEY",
    } | keys


def problems(raw: dict[str, Any], env: dict[str, str]) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, env)
    assert str(caught.value) == "\n".join(caught.value.problems)
    return caught.value.problems


def test_every_problem_is_reported_not_only_the_first() -> None:
    raw = {
        "server": {"prot": 1, "metrics": "sometimes", "max_body_bytes": 0},
        "limits": {"max_depth": 0},
        "auth": {"mode": "magic"},
        "sources": [
            rv(timeout=3, api_key_env="NOPE"),
            {
                "name": "tl",
                "kind": "truthlocks",
                "base_url": "ftp://x",
                "api_key_env": "RV_API_KEY",
            },
            rv(),
        ],
    }
    assert problems(raw, ENV) == (
        "server.prot: unknown key (did you mean 'port'?)",
        "server.metrics: 'sometimes' is not one of off, open, port",
        "server.max_body_bytes: must be positive",
        "limits.max_depth: must be positive",
        "auth.mode: 'magic' is not one of none, api_key",
        "source \"rv\": timeout: unknown key (did you mean 'timeout_s'?)",
        'source "rv": api_key_env: environment variable NOPE is not set (it holds the secret)',
        "source \"tl\": base_url: 'ftp://x' must be an http(s) URL",
        "source \"tl\": tenant_id: missing (a 'truthlocks' source needs it)",
        "source #3: name: 'rv' is used twice; names must be unique",
    )


def test_a_source_missing_what_it_needs_reports_each_missing_key() -> None:
    assert problems({"sources": [{"kind": "velt"}]}, ENV) == (
        "source #1: name: missing (required)",
        "source #1: base_url: missing (required)",
        "source #1: api_key_env: missing (a 'velt' source needs it)",
        "source #1: auth_token_env: missing (a 'velt' source needs it)",
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        pytest.param(
            "GATEWAY__SERVER__PROT",
            "9000",
            "server.prot: unknown key (did you mean 'port'?) (set by GATEWAY__SERVER__PROT)",
            id="section-key",
        ),
        pytest.param(
            "GATEWAY__SOURCES__RV__TIMEOUT",
            "3",
            "source \"rv\": timeout: unknown key (did you mean 'timeout_s'?) "
            "(set by GATEWAY__SOURCES__RV__TIMEOUT)",
            id="source-key",
        ),
        pytest.param(
            "GATEWAY__SOURCES__RB__BASE_URL",
            "http://y",
            "GATEWAY__SOURCES__RB__BASE_URL: no source named 'rb' to override (did you mean 'rv'?)",
            id="source-name",
        ),
        pytest.param(
            "GATEWAY__SOURCES__BILLING__BASE_URL",
            "http://y",
            "GATEWAY__SOURCES__BILLING__BASE_URL: no source named 'billing' to override",
            id="source-name-not-close",
        ),
        pytest.param(
            "GATEWAY__SOURCES__BASE_URL",
            "http://y",
            "GATEWAY__SOURCES__BASE_URL: not an override "
            "(GATEWAY__<SECTION>__<KEY> or GATEWAY__SOURCES__<NAME>__<KEY>)",
            id="source-without-name",
        ),
        pytest.param(
            "GATEWAY__SERVR__PORT",
            "9000",
            "servr: unknown key (did you mean 'server'?) (set by GATEWAY__SERVR__PORT)",
            id="section",
        ),
        pytest.param(
            "GATEWAY__SERVER__PORT",
            "soon",
            "server.port: expected an integer, got a string 'soon' (set by GATEWAY__SERVER__PORT)",
            id="type",
        ),
        pytest.param(
            "GATEWAY__SOURCES__RV__RETRIES",
            "-1",
            'source "rv": retries: must be zero or more (set by GATEWAY__SOURCES__RV__RETRIES)',
            id="source-value",
        ),
    ],
)
def test_a_mistyped_environment_override_names_the_variable(
    variable: str, value: str, message: str
) -> None:
    assert problems({"sources": [rv()]}, {**ENV, variable: value}) == (message,)


def test_an_override_of_an_unknown_source_names_it_as_the_file_spells_it() -> None:
    raw = {"sources": [rv(name="rv-eu")]}
    assert problems(raw, {**ENV, "GATEWAY__SOURCES__RV_EV__BASE_URL": "http://y"}) == (
        "GATEWAY__SOURCES__RV_EV__BASE_URL: no source named 'rv-ev' to override "
        "(did you mean 'rv-eu'?)",
    )


def test_check_config_prints_one_line_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(
        '[server]\nport = 99999\n[[sources]]\nname = "rv"\nkind = "rotavision"\n'
        'base_url = "http://x"\napi_key_env = "NOPE"\n',
        encoding="utf-8",
    )
    monkeypatch.delenv("NOPE", raising=False)
    monkeypatch.setenv("GATEWAY__CACHE__TTL", "5")
    assert main(["check-config", "--config", str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "gateway: config error: server.port: must be at most 65535",
        'gateway: config error: source "rv": api_key_env: environment variable NOPE is not set '
        "(it holds the secret)",
        "gateway: config error: cache.ttl: unknown key (known keys: active_ttl_s, "
        "answers_max_bytes, answers_max_entries, max_entries, persisted_queries, "
        "persisted_queries_max, terminal_ttl_s, trusted_documents) (set by GATEWAY__CACHE__TTL)",
    ]


@pytest.mark.parametrize(
    ("command", "file_host"),
    [
        pytest.param(["check-config"], "0.0.0.0", id="check-config"),
        pytest.param(["serve"], "0.0.0.0", id="serve"),
        pytest.param(["serve", "--host", "0.0.0.0"], "127.0.0.1", id="serve-host-flag"),
    ],
)
def test_check_config_refuses_what_serve_refuses(
    command: list[str],
    file_host: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``auth.mode = "none"`` on a public host: one rule, in the config, for both commands."""
    path = tmp_path / "gateway.toml"
    path.write_text(
        f'[server]\nhost = "{file_host}"\n[[sources]]\nname = "rv"\nkind = "rotavision"\n'
        'base_url = "http://x"\napi_key_env = "RV_API_KEY"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("RV_API_KEY", "rv-secret")
    assert main([*command, "--config", str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        'gateway: config error: auth.mode: "none" on non-loopback host 0.0.0.0 would let anyone '
        'in; use "api_key" or set auth.allow_none_on_public_host = true'
    ]
    allowed = path.read_text(encoding="utf-8") + "[auth]\nallow_none_on_public_host = true\n"
    path.write_text(allowed, encoding="utf-8")
    assert main(["check-config", "--config", str(path)]) == 0


def test_a_secret_written_in_the_file_is_refused() -> None:
    raw = {"server": {"cursor_secret": "s3cret"}, "sources": [rv()]}
    (message,) = problems(raw, ENV)
    assert message.startswith("server.cursor_secret: a secret is never written in the file")
    assert "s3cret" not in message


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"list_order": "asc"}, "source \"rv\": list_order: only 'nesting' sources have it"),
        ({"auth_token_env": "T"}, "source \"rv\": auth_token_env: only 'velt' sources have it"),
        (
            {"kind": "nesting", "list_order": "sideways"},
            "source \"rv\": list_order: 'sideways' is not one of desc, asc, auto",
        ),
        (
            {"step_kinds_from_workflow": "yes"},
            "source \"rv\": step_kinds_from_workflow: expected true or false, got a string 'yes'",
        ),
        (
            {"kind": "nesting", "webhook_secret_env": "RV_API_KEY"},
            "source \"rv\": webhook_secret_env: 'nesting' sources send no signed webhooks",
        ),
    ],
)
def test_a_kinds_own_keys_come_from_its_adapter(keys: dict[str, Any], message: str) -> None:
    assert problems({"sources": [rv(**keys)]}, ENV) == (message,)


def test_rules_across_tables_are_reported_with_every_other_problem() -> None:
    """A rule spanning tables is checked on the file as written, not only once it is valid."""
    raw = {
        "server": {"host": "0.0.0.0", "port": 99999},
        "state": {"backend": "redis", "redis_url_env": "RV_API_KEY", "timeout_s": 0},
        "auth": {
            "clients": [
                {
                    "name": "ops",
                    "key_env": "RV_API_KEY",
                    "roles": ["viewer"],
                    "scope": {"nope": "*"},
                }
            ]
        },
        "sources": [rv(timeout_s="fast"), rv()],
    }
    assert problems(raw, ENV) == (
        "server.port: must be at most 65535",
        "server.cursor_secret_env: replicas that share state must share the cursor secret "
        "(a cursor one replica signed must verify on the next): set it on every replica",
        "state.redis_url_env: RV_API_KEY does not hold a redis://, rediss:// or unix:// URL",
        "state.timeout_s: must be positive",
        "auth.clients[0].scope: 'nope' is not a configured source",
        'auth.mode: "none" on non-loopback host 0.0.0.0 would let anyone in; use "api_key" or '
        "set auth.allow_none_on_public_host = true",
        "source \"rv\": timeout_s: expected a number, got a string 'fast'",
        "source #2: name: 'rv' is used twice; names must be unique",
    )


def test_every_bad_event_of_a_target_is_named() -> None:
    secret = "whsec_" + "a2V5" * 8  # the base64 of 24 bytes
    target = {
        "name": "ops",
        "url": "https://hooks.example/in",
        "secret_env": "HOOK_SECRET",
        "events": ["execution.faild", "approval.resolved", "approval.overdue", "run.done"],
    }
    raw = {"sources": [rv()], "notifications": [target]}
    assert problems(raw, {**ENV, "HOOK_SECRET": secret}) == (
        "notification \"ops\": events[0]: 'execution.faild' is not one of approval.requested, "
        "approval.resolved, execution.failed, execution.completed (did you mean 'execution.failed'?)",
        "notification \"ops\": events[2]: 'approval.overdue' is not available yet: a deadline "
        "passes without a change for the gateway to publish; query Approval.overdue instead "
        '(docs/live.md, "Notifications")',
        "notification \"ops\": events[3]: 'run.done' is not one of approval.requested, "
        "approval.resolved, execution.failed, execution.completed",
    )


@pytest.mark.parametrize(
    ("raw", "line"),
    [
        (
            {"sources": [rv(kind="rotavison")]},
            "source \"rv\": kind: 'rotavison' is not one of rotavision, velt, nesting, truthlocks, "
            "langgraph (did you mean 'rotavision'?)",
        ),
        (
            {"server": {"metrics": "opne"}, "sources": [rv()]},
            "server.metrics: 'opne' is not one of off, open, port (did you mean 'open'?)",
        ),
    ],
)
def test_a_misspelt_choice_gets_a_did_you_mean(raw: dict[str, Any], line: str) -> None:
    assert problems(raw, ENV) == (line,)

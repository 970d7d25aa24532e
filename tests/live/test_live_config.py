"""The live keys of the config file: webhook secrets per source, poll intervals, [live] bounds."""

from __future__ import annotations

import pytest

from gateway.config import ConfigError, parse_config
from tests.serving import demo_config_with

URL = "http://127.0.0.1:9"


def test_two_secrets_are_read_in_order_and_never_shown() -> None:
    config = demo_config_with(
        URL,
        {"NOW": "whsec_now", "OLD": "whsec_old"},
        sources={"rv": {"webhook_secret_env": "NOW", "webhook_secret_previous_env": "OLD"}},
    )
    source = config.source("rv")
    assert source is not None
    assert source.webhook_secrets == ("whsec_now", "whsec_old")
    assert "whsec" not in repr(source)


@pytest.mark.parametrize(
    ("sources", "env", "message"),
    [
        (
            {"zaia": {"webhook_secret_env": "S"}},
            {"S": "x"},
            "'nesting' sources send no signed webhooks",
        ),
        ({"rv": {"webhook_secret_env": "MISSING"}}, {}, "MISSING is not set"),
        ({"rv": {"poll_interval_s": 0}}, {}, "poll_interval_s: must be positive"),
    ],
)
def test_bad_live_source_keys_are_named(
    sources: dict[str, dict[str, object]], env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        demo_config_with(URL, env, sources=sources)


def test_a_previous_secret_needs_a_current_one() -> None:
    raw = {
        "sources": [
            {
                "name": "rv",
                "kind": "rotavision",
                "base_url": URL,
                "api_key_env": "KEY",
                "webhook_secret_previous_env": "OLD",
            }
        ]
    }
    with pytest.raises(ConfigError, match="needs webhook_secret_env"):
        parse_config(raw, {"KEY": "k", "OLD": "o"})


def test_live_bounds_must_be_positive() -> None:
    with pytest.raises(ConfigError, match=r"live\.subscriber_queue: must be positive"):
        demo_config_with(URL, live={"subscriber_queue": 0})
    config = demo_config_with(URL, live={"max_subscriptions": 5, "keepalive_s": 2})
    assert (config.live.max_subscriptions, config.live.keepalive_s) == (5, 2.0)

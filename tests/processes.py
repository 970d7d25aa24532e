"""``gateway serve`` as a child process on a free loopback port, for tests that need the real
server (its protocol, its limits, several processes sharing state)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING

import httpx

from sandbox.ports import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from pathlib import Path

__all__ = ["STARTUP_LIMIT_S", "free_port", "gateway_process", "sources_toml", "toml"]

STARTUP_LIMIT_S = 30.0


def toml(value: object) -> str:
    """One TOML value: what a test writes into a config file for ``gateway serve``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value)


def sources_toml(sources: list[dict[str, object]]) -> list[str]:
    """The ``[[sources]]`` tables of a config, one key a line."""
    lines: list[str] = []
    for source in sources:
        lines += ["", "[[sources]]"] + [f"{k} = {toml(v)}" for k, v in source.items()]
    return lines


@contextmanager
def gateway_process(
    config: Path, port: int, env: Mapping[str, str], log: Path, *, cwd: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """``gateway serve --config config --port port`` once ``/healthz`` answers (its stderr in
    ``log``, shown if it never does); terminated, then killed if need be, on leaving. ``cwd``
    comes first on the child's import path (a test's own copy of a package)."""
    with log.open("wb") as stderr:
        process = subprocess.Popen(  # noqa: S603 (our own command line)
            [
                sys.executable,
                "-m",
                "gateway",
                "serve",
                "--config",
                str(config),
                "--port",
                str(port),
            ],
            env=dict(env),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            cwd=cwd,
        )
    try:
        deadline = time.monotonic() + STARTUP_LIMIT_S
        while time.monotonic() < deadline and process.poll() is None:
            with suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            raise AssertionError(log.read_text())
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=STARTUP_LIMIT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

"""LangGraph's real Agent Server, in memory (``langgraph dev``), on a free loopback port.

The graphs are the test fixtures' (``tests/fixtures/langgraph``), copied to a scratch folder first:
the dev server writes its own ``.langgraph_api`` state beside its ``langgraph.json``. The server
runs in its own process group, so stopping it ends its workers too.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

import httpx
import pytest

from tests.processes import free_port

__all__ = ["FIXTURES", "STARTUP_LIMIT_S", "LangGraphServer", "require_langgraph"]

FIXTURES = Path(__file__).parent.parent / "fixtures" / "langgraph"
STARTUP_LIMIT_S = 60.0
"""A generous bound: it starts in about 2 s here."""
_QUIET = {
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGSMITH_API_KEY": "",
}
"""No tracing, no analytics: the server makes no outbound call."""


def require_langgraph() -> str:
    """The ``langgraph`` command; skips without the extra locally, fails in CI (scripts/install
    installs it there)."""
    command = Path(sys.executable).parent / "langgraph"
    if not command.exists():
        if os.environ.get("CI"):
            pytest.fail("langgraph-cli is not installed: scripts/install installs the extra")
        pytest.skip("the langgraph extra is not installed (pip install -e '.[langgraph]')")
    return str(command)


class LangGraphServer:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.started_in_s: float | None = None

    def start(self) -> None:
        command = require_langgraph()
        shutil.copytree(FIXTURES, self.workdir, dirs_exist_ok=True)
        log = (self.workdir / "server.log").open("wb")
        began = time.monotonic()
        self.process = subprocess.Popen(  # noqa: S603 (our own command line)
            [
                command,
                "dev",
                "--no-browser",
                "--no-reload",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--n-jobs-per-worker",
                "4",
            ],
            cwd=self.workdir,
            env={**os.environ, **_QUIET},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = began + STARTUP_LIMIT_S
        while time.monotonic() < deadline and self.process.poll() is None:
            with suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/ok", timeout=1).status_code == 200:
                    self.started_in_s = time.monotonic() - began
                    return
            time.sleep(0.1)
        self.stop()
        output = (self.workdir / "server.log").read_text(errors="replace")[-4000:]
        raise RuntimeError(f"langgraph dev did not answer /ok:\n{output}")

    def stop(self) -> None:
        """SIGTERM to the whole group, then SIGKILL to whatever of it is left (the dev server's
        worker may outlive its parent for a moment and still answer on open connections)."""
        process, self.process = self.process, None
        if process is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

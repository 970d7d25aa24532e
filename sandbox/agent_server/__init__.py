"""LangGraph's real Agent Server (``langgraph dev``, in memory) as the ``langgraph`` kind's twin.

Not a simulation: the vendor's own server, from the ``langgraph`` extra, running the two graphs in
``graphs.py``. ``gateway demo`` starts it when the extra is installed and leaves one thread
waiting at its interrupt, so the inbox shows a LangGraph approval beside the four simulated
kinds; the tests start it the same way. The graphs and ``langgraph.json`` are copied to a
scratch folder first: the dev server writes its own ``.langgraph_api`` state beside them. It runs
in its own process group, so stopping it ends its workers too; it makes no outbound call.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import suppress
from pathlib import Path
from typing import Any

from sandbox.ports import free_port
from sandbox.twins import Twin

__all__ = ["GRAPHS", "STARTUP_LIMIT_S", "TWIN", "AgentServer", "langgraph_command"]

GRAPHS = Path(__file__).parent
"""``graphs.py`` and ``langgraph.json``: what the server runs."""
STARTUP_LIMIT_S = 60.0
"""A generous bound: it starts in about 2 s here."""
_QUIET = {
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGSMITH_API_KEY": "",
}
"""No tracing, no analytics: the server makes no outbound call."""


def langgraph_command() -> Path | None:
    """The ``langgraph`` command installed beside this Python, if the extra is installed."""
    command = Path(sys.executable).parent / "langgraph"
    return command if command.exists() else None


class AgentServer:
    """One ``langgraph dev`` process on a free loopback port, in ``workdir``."""

    def __init__(self, workdir: Path, command: Path) -> None:
        self.workdir = workdir
        self.command = command
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.started_in_s: float | None = None

    def start(self) -> None:
        shutil.copytree(GRAPHS, self.workdir, dirs_exist_ok=True, ignore=_not_graphs)
        log = (self.workdir / "server.log").open("wb")
        began = time.monotonic()
        self.process = subprocess.Popen(  # noqa: S603 (the extra's own command)
            [
                str(self.command),
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
            preexec_fn=_dies_with_its_parent,  # the tests and the demo start it before any thread
        )
        log.close()
        deadline = began + STARTUP_LIMIT_S
        while time.monotonic() < deadline and self.process.poll() is None:
            with (
                suppress(OSError),
                urllib.request.urlopen(f"{self.url}/ok", timeout=1) as reply,  # noqa: S310 (loopback)
            ):
                if reply.status == 200:
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

    def post(self, path: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(  # noqa: S310 (loopback)
            f"{self.url}{path}",
            data=json.dumps(body).encode(),
            headers={"content-type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310 (loopback)
            return json.loads(reply.read())

    def waiting_thread(self, topic: str) -> str:
        """A thread of the ``review`` graph stopped at its interrupt; its id."""
        thread_id: str = self.post("/threads", {})["thread_id"]
        self.post(
            f"/threads/{thread_id}/runs/wait", {"assistant_id": "review", "input": {"topic": topic}}
        )
        return thread_id


def _dies_with_its_parent() -> None:
    """Linux: the server gets SIGTERM when the process that started it dies, however it dies
    (a demo killed with SIGKILL leaves no server behind). Elsewhere ``stop`` is the only way."""
    with suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


_PR_SET_PDEATHSIG = 1


def _not_graphs(folder: str, names: list[str]) -> list[str]:
    return [name for name in names if name not in ("graphs.py", "langgraph.json")]


def _launch_for_the_demo() -> AgentServer | None:
    command = langgraph_command()
    if command is None:
        return None
    server = AgentServer(Path(tempfile.mkdtemp(prefix="gateway-demo-langgraph-")), command)
    server.start()
    try:
        server.waiting_thread("the demo")
    except (OSError, urllib.error.URLError, KeyError, ValueError):
        server.stop()
        raise
    return server


TWIN = Twin(
    kind="langgraph",
    demo_name="lg",
    credentials={},
    headers=(),
    probe="POST /threads/search {}",
    launch=_launch_for_the_demo,
    install_hint="EXTRAS=langgraph ./scripts/demo (installs LangGraph's Agent Server, ~30 s)",
)
"""What this twin tells the demo and the banner (sandbox/twins.py)."""

"""A uvicorn server on a background thread: the demo's sandbox, the metrics port, the fuzz test."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Literal

import uvicorn

if TYPE_CHECKING:
    from starlette.types import ASGIApp

__all__ = ["ThreadedServer"]


class ThreadedServer:
    """A uvicorn server on its own thread and event loop; ``url`` once started."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        lifespan: Literal["on", "off"] = "off",
    ) -> None:
        # The sandbox has no lifespan; the gateway needs "on" (its sources open at start-up).
        self._server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan=lifespan)
        )
        self._thread = threading.Thread(target=self._server.run, name="sandbox", daemon=True)
        self.host = host

    def start(self, timeout_s: float = 10.0) -> str:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        return self.url

    @property
    def url(self) -> str:
        socket = self._server.servers[0].sockets[0]
        return f"http://{self.host}:{socket.getsockname()[1]}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

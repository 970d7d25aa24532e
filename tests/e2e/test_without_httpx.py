"""httpx is not a dependency of serving: the gateway, its sandbox and its notifier run with the
import of httpx blocked (it is the ``httpx`` extra, and a dev tool for respx)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap


def test_the_demo_answers_a_query_with_httpx_blocked() -> None:
    script = textwrap.dedent(
        """
        import json, sys, urllib.request
        sys.modules["httpx"] = None
        from gateway.demo import demo_config
        from gateway.http.app import create_app
        from gateway.http.threaded_server import ThreadedServer
        from sandbox import Sandbox
        sandbox = ThreadedServer(Sandbox().app())
        gateway = ThreadedServer(create_app(demo_config(sandbox.start())), lifespan="on")
        query = '{ execution(id: "rv:exec_wait0001") { status } }'
        request = urllib.request.Request(
            gateway.start() + "/graphql",
            data=json.dumps({"query": query}).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as reply:
            print(reply.read().decode())
        gateway.stop()
        sandbox.stop()
        """
    )
    result = subprocess.run(  # noqa: S603 (our own interpreter)
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer == {"data": {"execution": {"status": "WAITING_FOR_APPROVAL"}}}

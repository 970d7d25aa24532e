"""``gateway``: demo, serve, sandbox, export-schema, check-config."""

from __future__ import annotations

import argparse
import contextlib
import errno
import math
import signal
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from gateway.config import ConfigError, GatewayConfig, ServerConfig
    from sandbox.twins import RunningServer

__all__ = ["main", "sandbox_banner", "serve_banner", "uvicorn_options"]

EXIT_CONFIG = 2
DEMO_PORT = 8000
DEMO_SUMMARY_S = 60.0
BACKLOG = 2048
"""uvicorn's default ``backlog``."""
SANDBOX_PORT = 9000
CONFIG_HELP = (
    "the gateway's TOML config file; secrets come from the environment (docs/configuration.md)"
)
APP_FACTORY = "gateway.http.app:app_from_env"
"""What each ``serve --workers N`` process imports: it reads the config path from ``GATEWAY_CONFIG``."""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    result: int = args.run(args)
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gateway", description="One GraphQL API over execution APIs."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    with_defaults = argparse.ArgumentDefaultsHelpFormatter

    demo = commands.add_parser(
        "demo",
        help="run the sandbox and the gateway together (no credentials)",
        formatter_class=with_defaults,
    )
    demo.add_argument("--host", default="127.0.0.1", help="the gateway's address")
    demo.add_argument("--port", type=int, default=DEMO_PORT, help="the gateway's port")
    demo.add_argument(
        "--sandbox-port", type=int, default=0, help="the sandbox's port; 0 picks a free one"
    )
    demo.add_argument("--latency-ms", type=float, default=0.0, help="sandbox latency per call")
    demo.add_argument(
        "--progress-s",
        type=float,
        default=5.0,
        help="every N s one running execution per kind finishes and webhooks tell (0: off)",
    )
    demo.add_argument(
        "--summary-s",
        type=float,
        default=DEMO_SUMMARY_S,
        help="the demo's own webhook traffic is not logged line by line: one line sums it up "
        "every N s (0: never)",
    )
    demo.set_defaults(run=_demo)

    serve = commands.add_parser("serve", help="serve the gateway with a config file")
    serve.add_argument("--config", required=True, type=Path, help=CONFIG_HELP)
    serve.add_argument("--host", help="overrides server.host")
    serve.add_argument("--port", type=int, help="overrides server.port")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help='worker processes (default 1; more need server.metrics = "off")',
    )
    serve.set_defaults(run=_serve)

    sandbox = commands.add_parser(
        "sandbox", help="serve the simulated upstreams alone", formatter_class=with_defaults
    )
    sandbox.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    sandbox.add_argument("--port", type=int, default=SANDBOX_PORT, help="the port to listen on")
    sandbox.add_argument("--latency-ms", type=float, default=0.0, help="latency added per call")
    sandbox.add_argument("--fail-rate", type=float, default=0.0, help="share of calls answered 503")
    sandbox.add_argument("--seed", type=int, default=7, help="seeds the simulated data")
    sandbox.add_argument("--executions", type=int, default=240, help="seeded executions per source")
    sandbox.add_argument(
        "--progress-s",
        type=float,
        default=0.0,
        help="every N s one running execution per kind finishes, as in demo (0: off); "
        "subscriptions see it through their polls",
    )
    sandbox.set_defaults(run=_sandbox)

    export = commands.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    export.add_argument("--output", type=Path, help="write to this file instead of stdout")
    export.set_defaults(run=_export_schema)

    check = commands.add_parser(
        "check-config", help="validate a config file without serving; reports every problem"
    )
    check.add_argument("--config", required=True, type=Path, help=CONFIG_HELP)
    check.set_defaults(run=_check_config)
    return parser


def _version() -> str:
    """pyproject.toml's version, as the installed package says (``gateway.__version__``)."""
    from gateway import __version__

    return __version__


def _fail(message: str) -> int:
    print(f"gateway: {message}", file=sys.stderr)
    return EXIT_CONFIG


def _config_failed(error: ConfigError) -> int:
    """One line per problem, so a file with several is fixed in one pass."""
    for problem in error.problems or (str(error),):
        _fail(f"config error: {problem}")
    return EXIT_CONFIG


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` before any URL is printed; ``OSError`` when taken.

    uvicorn serves on this very socket, so nothing can take the port between check and use.

    The protocol is named (``IPPROTO_TCP``, not 0) and Nagle is off on the listener: asyncio's
    own event loop (no uvloop: Windows, or an install without it) turns Nagle off only on
    connections whose socket says TCP, and with Nagle on, a response written as headers then
    body waited for the client's delayed ACK: 44 ms on every keep-alive request.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)  # a client that reads the banner at once waits, is not refused
    except OSError:
        sock.close()
        raise
    return sock


def _cannot_listen(host: str, port: int, error: OSError, flag: str) -> int:
    reason = "already in use" if error.errno == errno.EADDRINUSE else (error.strerror or str(error))
    return _fail(f"cannot listen on {host}:{port}: {reason}; choose another port with {flag}")


def _serve_on(sock: socket.socket, app: ASGIApp | str, options: dict[str, Any]) -> int:
    """``uvicorn.run`` on an already bound socket (uvicorn's public ``Server.run(sockets=)``)."""
    import uvicorn

    options = {k: v for k, v in options.items() if k not in ("host", "port")}
    server = uvicorn.Server(uvicorn.Config(app, **options))
    with sock, contextlib.suppress(KeyboardInterrupt):  # Ctrl-C stops it, as uvicorn.run
        server.run(sockets=[sock])
    return 0  # an app that fails to start makes uvicorn exit 3 itself


def _serve_workers(sock: socket.socket, app: str, options: dict[str, Any]) -> int:
    """``options["workers"]`` processes on one bound socket, under uvicorn's own supervisor (what
    ``uvicorn.run`` starts for workers, given our socket instead of one it binds: see
    ``_listen`` for why the socket must be ours)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    options = {k: v for k, v in options.items() if k not in ("host", "port")}
    config = uvicorn.Config(app, factory=True, **options)
    sock.set_inheritable(True)
    with sock, contextlib.suppress(KeyboardInterrupt):
        Multiprocess(config, sockets=[sock]).run()
    return 0


def _demo(args: argparse.Namespace) -> int:
    try:
        sock = _listen(args.host, args.port)
    except OSError as exc:
        return _cannot_listen(args.host, args.port, exc, "--port")
    if args.sandbox_port:
        try:
            _listen("127.0.0.1", args.sandbox_port).close()
        except OSError as exc:
            sock.close()
            return _cannot_listen("127.0.0.1", args.sandbox_port, exc, "--sandbox-port")
    port = sock.getsockname()[1]
    # uvicorn re-raises the SIGTERM it stopped on: as SystemExit here, so ``finally`` stops the
    # real servers the twins started (they also die with this process: see sandbox/agent_server).
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    servers = _launch_real_servers()  # before any thread of ours starts
    try:
        return _demo_on(args, sock, port, servers)
    finally:
        for server in servers.values():
            server.stop()


def _demo_on(
    args: argparse.Namespace, sock: socket.socket, port: int, servers: dict[str, RunningServer]
) -> int:
    """The demo once its real servers run: the sandbox, then the gateway over both."""
    from gateway.demo import DEMO_EXECUTION_ID, DEMO_SOURCE_NAMES, demo_config
    from gateway.http.app import create_app
    from gateway.http.threaded_server import ThreadedServer
    from gateway.ops.logs import BackgroundTrafficSummary, configure_logging
    from sandbox import Faults, Sandbox, SandboxConfig
    from sandbox.progress import Progress, with_progress
    from sandbox.webhooks import WebhookSender

    simulated = Sandbox(SandboxConfig(faults=Faults(latency_ms=args.latency_ms)))
    sandbox_app: ASGIApp = simulated.app()
    if args.progress_s > 0:  # the sandbox moves on and sends signed webhooks (docs/live.md)
        sender = WebhookSender(f"http://127.0.0.1:{port}", DEMO_SOURCE_NAMES)
        sandbox_app = with_progress(sandbox_app, Progress(simulated, sender), args.progress_s)
    sandbox = ThreadedServer(
        sandbox_app, port=args.sandbox_port, lifespan="on" if args.progress_s > 0 else "off"
    )
    sandbox_url = sandbox.start()
    launched = {kind: server.url for kind, server in servers.items()}
    config = demo_config(sandbox_url, port=port, step_kinds=True, launched=launched)
    server = config.server.model_copy(update={"host": args.host})
    config = config.model_copy(update={"server": server})
    handler = configure_logging(config.logging)
    if args.progress_s > 0:
        handler.addFilter(BackgroundTrafficSummary(args.summary_s))
    app = create_app(config)
    url = f"http://{args.host}:{port}/graphql"
    print(
        f"sandbox upstreams: {sandbox_url}\n"
        f"GraphiQL:          {url}\n"
        f'try:               {{ execution(id: "{DEMO_EXECUTION_ID}") '
        "{ status steps { kind status } approvals { status } } }\n",
        flush=True,
    )
    try:
        return _serve_on(sock, app, uvicorn_options(config))
    finally:
        sandbox.stop()


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _launch_real_servers() -> dict[str, RunningServer]:
    """The real servers of the kinds that have one here (a twin's ``launch``), by kind; each
    one not installed is named with what to install."""
    from sandbox import TWINS

    servers: dict[str, RunningServer] = {}
    for twin in TWINS:
        if twin.launch is None:
            continue
        try:
            server = twin.launch()
        except (OSError, RuntimeError) as exc:
            print(f"{twin.kind}: left out, its server did not start ({exc})", flush=True)
            continue
        if server is None:
            print(f"{twin.kind}: left out; to add it: {twin.install_hint}", flush=True)
            continue
        print(f"{twin.kind}: {server.url} (source '{twin.demo_name}')", flush=True)
        servers[twin.kind] = server
    return servers


def _load(path: Path, server: dict[str, Any] | None = None) -> GatewayConfig:
    """The config at ``path``; ``server`` holds ``[server]`` keys the command line sets."""
    from gateway.config import load_config

    return load_config(path, server=server)


def uvicorn_options(config: GatewayConfig, *, workers: int = 1) -> dict[str, Any]:
    """How uvicorn runs the gateway: ``uvicorn.Config(app, **options)``, less host and port (it
    serves on the socket ``_listen`` bound, in one process or under its worker supervisor).

    In-flight requests get ``server.shutdown_timeout_s`` to finish after SIGTERM; the lifespan
    then closes the upstream clients. Connections are bounded by the ``[server]`` limits. Logging is ``configure_logging``'s, and the request line is
    ``gateway.access``'s, so uvicorn keeps its hands off both.
    """
    from gateway.http.server import guarded_protocol

    server = limits = config.server  # the [server] table holds the ConnectionLimits
    options: dict[str, Any] = {
        "host": config.server.host,
        "port": config.server.port,
        # uvicorn's protocol, bounded and timed out (gateway/http/server.py).
        "http": guarded_protocol(limits, server.http_parser),
        "h11_max_incomplete_event_size": limits.max_header_bytes,
        # A WebSocket frame past this closes the socket (1009) before its payload is read.
        "ws_max_size": server.max_websocket_message_bytes,
        "timeout_keep_alive": math.ceil(limits.keep_alive_timeout_s),
        "timeout_graceful_shutdown": math.ceil(config.server.shutdown_timeout_s),
        "log_config": None,
        "log_level": config.logging.level.lower(),
        "access_log": False,
        "server_header": False,
    }
    if workers > 1:
        options["workers"] = workers
    return options


def _serve(args: argparse.Namespace) -> int:
    import os

    from gateway.config import ConfigError
    from gateway.http.app import CONFIG_ENV, create_app
    from gateway.http.threaded_server import ThreadedServer
    from gateway.ops.heap import settle_heap
    from gateway.ops.logs import configure_logging

    try:
        flags = {"host": args.host, "port": args.port}
        config = _load(args.config, {k: v for k, v in flags.items() if v is not None})
        server = config.server
        if args.workers < 1:
            raise ConfigError(f"--workers: {args.workers} must be at least 1")
        if args.workers > 1 and server.metrics != "off":
            # Each process would count on its own and bind its own metrics port: a scrape
            # would see one worker's numbers. One process per replica keeps metrics whole.
            raise ConfigError(
                f'server.metrics: "{server.metrics}" needs one process; with --workers '
                f'{args.workers} set server.metrics = "off", or run one worker per replica'
            )
        if args.workers > 1:
            if config.tracing.enabled:
                from gateway.ops.tracing import check_installed

                check_installed()
            app: Any = APP_FACTORY
            os.environ[CONFIG_ENV] = str(args.config.resolve())
        else:
            app = create_app(config)
    except ConfigError as exc:
        return _config_failed(exc)
    options = uvicorn_options(config, workers=args.workers)
    if args.workers > 1:
        configure_logging(config.logging)
        try:
            sock = _listen(server.host, server.port)
        except OSError as exc:
            return _cannot_listen(server.host, server.port, exc, "--port (or server.port)")
        # Each worker loads the file again; the command line's host and port only bind.
        print(serve_banner(server, sock.getsockname()[1]), flush=True)
        return _serve_workers(sock, app, options)
    metrics_server = None
    if server.metrics == "port":
        metrics_server = ThreadedServer(
            app.state.metrics.app(), host=server.host, port=server.metrics_port
        )
    configure_logging(config.logging)  # after ThreadedServer, whose uvicorn.Config sets its own
    if metrics_server is not None:
        try:
            metrics_server.start()
        except RuntimeError:
            return _fail(
                f"server.metrics_port: cannot listen on {server.host}:{server.metrics_port}"
            )
    try:
        sock = _listen(server.host, server.port)
    except OSError as exc:
        if metrics_server is not None:
            metrics_server.stop()
        return _cannot_listen(server.host, server.port, exc, "--port (or server.port)")
    settle_heap()
    print(serve_banner(server, sock.getsockname()[1]), flush=True)
    try:
        return _serve_on(sock, app, options)
    finally:
        if metrics_server is not None:
            metrics_server.stop()


def serve_banner(server: ServerConfig, port: int) -> str:
    """The one line ``serve`` prints once it listens: where, whether GraphiQL is there, and
    where /metrics is (a new user otherwise has to read the config to find any of them)."""
    from gateway.ops.metrics import METRICS_PATH

    host = f"[{server.host}]" if ":" in server.host else server.host
    base = f"http://{host}:{port}"
    graphiql = f"on ({base}/ in a browser)" if server.graphiql else "off"
    metrics = {
        "off": "off",
        "open": f"{base}{METRICS_PATH}",
        "port": f"http://{host}:{server.metrics_port}{METRICS_PATH}",
    }.get(server.metrics, server.metrics)
    return f"gateway: serving {base}/graphql; GraphiQL {graphiql}; metrics {metrics}"


def _sandbox(args: argparse.Namespace) -> int:
    from sandbox import Faults, Sandbox, SandboxConfig
    from sandbox.progress import Progress, with_progress

    try:
        sock = _listen(args.host, args.port)
    except OSError as exc:
        return _cannot_listen(args.host, args.port, exc, "--port")
    config = SandboxConfig(
        seed=args.seed,
        executions_per_source=args.executions,
        faults=Faults(latency_ms=args.latency_ms, fail_rate=args.fail_rate),
    )
    url = f"http://{args.host}:{sock.getsockname()[1]}"
    simulated = Sandbox(config)
    app: ASGIApp = simulated.app()
    if args.progress_s > 0:  # runs finish over time; no gateway to send webhooks to
        app = with_progress(app, Progress(simulated), args.progress_s)
    print(sandbox_banner(url), flush=True)
    return _serve_on(sock, app, {"log_level": "warning"})


def sandbox_banner(url: str) -> str:
    """Where the sandbox listens and, per kind, an endpoint and the headers it accepts (what
    each twin declares)."""
    from sandbox import TWINS

    lines = [f"sandbox upstreams: {url}", "each kind accepts these credentials:"]
    for twin in (twin for twin in TWINS if twin.launch is None):  # the rest are real servers
        headers = "  ".join(f"{name}: {value}" for name, value in twin.filled_headers())
        lines += [f"  {twin.kind:<11} {headers}", f"  {'':<11} {twin.probe}"]
    first = TWINS[0]
    path = first.probe.split(maxsplit=1)[1]
    header = " ".join(f"-H '{name}: {value}'" for name, value in first.filled_headers())
    lines += [
        f"faults:            {url}/_sandbox/faults (GET shows, POST sets; docs/resilience.md)",
        f"try:               curl {header} {url}{path}",
    ]
    return "\n".join(lines) + "\n"


def _export_schema(args: argparse.Namespace) -> int:
    from gateway.schema import schema

    text = schema.as_str() + "\n"
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _check_config(args: argparse.Namespace) -> int:
    from gateway.config import ConfigError

    try:
        config = _load(args.config)
    except ConfigError as exc:
        return _config_failed(exc)
    names = ", ".join(f"{s.name} ({s.kind.value})" for s in config.sources)
    print(f"{args.config}: OK — auth {config.auth.mode}; sources: {names}")
    return 0

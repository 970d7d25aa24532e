"""``gateway``: demo, serve, sandbox, export-schema, check-config (design §5)."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from gateway.config import GatewayConfig

__all__ = ["main", "uvicorn_options"]

EXIT_CONFIG = 2
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
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo", help="run the sandbox and the gateway together (no credentials)"
    )
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--sandbox-port", type=int, default=0, help="default: any free port")
    demo.add_argument("--latency-ms", type=float, default=0.0, help="sandbox latency per call")
    demo.add_argument(
        "--progress-s",
        type=float,
        default=5.0,
        help="every N s one running execution per kind finishes and webhooks tell (0: off)",
    )
    demo.set_defaults(run=_demo)

    serve = commands.add_parser("serve", help="serve the gateway with a config file")
    serve.add_argument("--config", required=True, type=Path)
    serve.add_argument("--host", help="overrides server.host")
    serve.add_argument("--port", type=int, help="overrides server.port")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help='worker processes (default 1; more need server.metrics = "off")',
    )
    serve.set_defaults(run=_serve)

    sandbox = commands.add_parser("sandbox", help="serve the simulated upstreams alone")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=9000)
    sandbox.add_argument("--latency-ms", type=float, default=0.0)
    sandbox.add_argument("--fail-rate", type=float, default=0.0, help="share of calls answered 503")
    sandbox.add_argument("--seed", type=int, default=7)
    sandbox.add_argument("--executions", type=int, default=240, help="seeded executions per source")
    sandbox.set_defaults(run=_sandbox)

    export = commands.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    export.add_argument("--output", type=Path, help="write to this file instead of stdout")
    export.set_defaults(run=_export_schema)

    check = commands.add_parser("check-config", help="validate a config file without serving")
    check.add_argument("--config", required=True, type=Path)
    check.set_defaults(run=_check_config)
    return parser


def _fail(message: str) -> int:
    print(f"gateway: {message}", file=sys.stderr)
    return EXIT_CONFIG


def _demo(args: argparse.Namespace) -> int:
    import dataclasses

    import uvicorn

    from gateway.demo import DEMO_EXECUTION_ID, DEMO_SOURCE_NAMES, demo_config
    from gateway.http.app import create_app
    from gateway.http.threaded_server import ThreadedServer
    from gateway.ops.logs import configure_logging
    from sandbox import Faults, Sandbox, SandboxConfig
    from sandbox.progress import Progress, with_progress
    from sandbox.webhooks import WebhookSender

    simulated = Sandbox(SandboxConfig(faults=Faults(latency_ms=args.latency_ms)))
    sandbox_app: ASGIApp = simulated.app()
    if args.progress_s > 0:  # the sandbox moves on and sends signed webhooks (docs/live.md)
        sender = WebhookSender(f"http://127.0.0.1:{args.port}", DEMO_SOURCE_NAMES)
        sandbox_app = with_progress(sandbox_app, Progress(simulated, sender), args.progress_s)
    sandbox = ThreadedServer(
        sandbox_app, port=args.sandbox_port, lifespan="on" if args.progress_s > 0 else "off"
    )
    sandbox_url = sandbox.start()
    config = demo_config(sandbox_url, port=args.port, step_kinds=True)
    config = dataclasses.replace(config, server=dataclasses.replace(config.server, host=args.host))
    configure_logging(config.logging)
    app = create_app(config)
    url = f"http://{args.host}:{args.port}/graphql"
    print(
        f"sandbox upstreams: {sandbox_url}\n"
        f"GraphiQL:          {url}\n"
        f'try:               {{ execution(id: "{DEMO_EXECUTION_ID}") '
        "{ status steps { kind status } approvals { status } } }\n",
        flush=True,
    )
    try:
        uvicorn.run(app, **uvicorn_options(config))
    finally:
        sandbox.stop()
    return 0


def _load(path: Path):  # type: ignore[no-untyped-def]
    from gateway.config import load_config

    return load_config(path)


def uvicorn_options(config: GatewayConfig, *, workers: int = 1) -> dict[str, Any]:
    """How uvicorn runs the gateway: ``uvicorn.run(app, **options)`` (or ``uvicorn.Config``).

    In-flight requests get ``server.shutdown_timeout_s`` to finish after SIGTERM; the lifespan
    then closes the upstream clients. Logging is ``configure_logging``'s, and the request line is
    ``gateway.access``'s, so uvicorn keeps its hands off both.
    """
    options: dict[str, Any] = {
        "host": config.server.host,
        "port": config.server.port,
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
    import dataclasses
    import os

    import uvicorn

    from gateway.config import ConfigError
    from gateway.http.app import CONFIG_ENV, create_app
    from gateway.http.threaded_server import ThreadedServer
    from gateway.ops.heap import settle_heap
    from gateway.ops.logs import configure_logging

    try:
        config = _load(args.config)
        server = dataclasses.replace(
            config.server,
            host=args.host or config.server.host,
            port=args.port if args.port is not None else config.server.port,
        )
        config = dataclasses.replace(config, server=server)
        if (
            config.auth.mode == "none"
            and not server.is_loopback
            and not config.auth.allow_none_on_public_host
        ):
            raise ConfigError(
                f'auth.mode: "none" on non-loopback host {server.host} would let anyone in; '
                'use "api_key" or set auth.allow_none_on_public_host = true'
            )
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
        return _fail(f"config error: {exc}")
    options = uvicorn_options(config, workers=args.workers)
    if args.workers > 1:
        configure_logging(config.logging)
        # Each worker loads the file again; the command line's host and port only bind.
        uvicorn.run(app, factory=True, **options)
        return 0
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
    settle_heap()
    try:
        uvicorn.run(app, **options)
    finally:
        if metrics_server is not None:
            metrics_server.stop()
    return 0


def _sandbox(args: argparse.Namespace) -> int:
    import uvicorn

    from sandbox import Faults, Sandbox, SandboxConfig

    config = SandboxConfig(
        seed=args.seed,
        executions_per_source=args.executions,
        faults=Faults(latency_ms=args.latency_ms, fail_rate=args.fail_rate),
    )
    uvicorn.run(Sandbox(config).app(), host=args.host, port=args.port, log_level="warning")
    return 0


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
        return _fail(f"config error: {exc}")
    names = ", ".join(f"{s.name} ({s.kind.value})" for s in config.sources)
    print(f"{args.config}: OK — auth {config.auth.mode}; sources: {names}")
    return 0

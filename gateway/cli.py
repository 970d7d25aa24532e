"""``gateway``: demo, serve, sandbox, export-schema, check-config (design §5)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]

EXIT_CONFIG = 2


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
    demo.set_defaults(run=_demo)

    serve = commands.add_parser("serve", help="serve the gateway with a config file")
    serve.add_argument("--config", required=True, type=Path)
    serve.add_argument("--host", help="overrides server.host")
    serve.add_argument("--port", type=int, help="overrides server.port")
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
    import uvicorn

    from gateway.app import create_app
    from gateway.demo import DEMO_EXECUTION_ID, demo_config
    from sandbox import Faults, Sandbox, SandboxConfig
    from sandbox.serve import ThreadedServer

    sandbox = ThreadedServer(
        Sandbox(SandboxConfig(faults=Faults(latency_ms=args.latency_ms))).app(),
        port=args.sandbox_port,
    )
    sandbox_url = sandbox.start()
    app = create_app(demo_config(sandbox_url, port=args.port))
    url = f"http://{args.host}:{args.port}/graphql"
    print(
        f"sandbox upstreams: {sandbox_url}\n"
        f"GraphiQL:          {url}\n"
        f'try:               {{ execution(id: "{DEMO_EXECUTION_ID}") '
        "{ status steps { kind status } approvals { status } } }\n",
        flush=True,
    )
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    finally:
        sandbox.stop()
    return 0


def _load(path: Path):  # type: ignore[no-untyped-def]
    from gateway.config import load_config

    return load_config(path)


def _serve(args: argparse.Namespace) -> int:
    import dataclasses

    import uvicorn

    from gateway.app import create_app
    from gateway.config import ConfigError

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
        app = create_app(config)
    except ConfigError as exc:
        return _fail(f"config error: {exc}")
    uvicorn.run(app, host=server.host, port=server.port, log_level="info")
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

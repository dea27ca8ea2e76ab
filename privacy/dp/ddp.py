"""Multi-process DP training through Opacus DPDDP (torch.distributed).

One process per device (GPU in production; CPU processes with the gloo backend for
tests). Each rank Poisson-samples its shard at the same rate, so the global expected
batch is the configured one; DPDDP averages clipped gradients and rank 0 adds the
noise, so the accountant sees one Poisson-subsampled Gaussian step per iteration,
exactly as in one process. Rank 0 alone writes the model, report and checkpoint.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from privacy.dp.config import TrainConfig
from privacy.dp.errors import DPError


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(
    rank: int, world: int, port: int, cfg_dict: dict[str, Any], result_path: str, backend: str
) -> None:
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        cfg = TrainConfig(**cfg_dict)
        if rank != 0:
            cfg.progress = False
        if rank == 0:
            from privacy.dp.runner import run_training

            result, _ = run_training(cfg)
            Path(result_path).write_text(json.dumps(result.to_dict(), default=str), encoding="utf-8")
        else:
            from privacy.dp.trainer import train

            train(cfg)
        dist.barrier()
    finally:
        dist.destroy_process_group()


def launch(cfg: TrainConfig, nproc: int, *, backend: str = "gloo") -> dict[str, Any]:
    """Train with ``nproc`` processes; return rank 0's result (as a dict)."""
    import torch.multiprocessing as mp

    if nproc < 2:
        raise DPError("--nproc must be >= 2 for distributed training")
    if cfg.resume:
        raise DPError("--resume with --nproc > 1 is not supported yet; resume in one process")
    with tempfile.TemporaryDirectory() as tmp:
        result_path = os.path.join(tmp, "result.json")
        mp.spawn(
            _worker, args=(nproc, _free_port(), asdict(cfg), result_path, backend), nprocs=nproc, join=True
        )
        return json.loads(Path(result_path).read_text(encoding="utf-8"))

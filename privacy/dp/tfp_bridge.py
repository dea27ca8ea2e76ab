"""Run tensorflow-privacy checks in the separate ``.venv-tfp`` (tensorflow 2.15.1, numpy<2).

This file is executed *inside* ``.venv-tfp`` as a script (``python tfp_bridge.py``), so it
imports nothing from this project and nothing from the main environment (no torch).
It reads one JSON request on stdin and writes one JSON answer on stdout:

- ``{"op": "statement", "n", "batch_size", "epochs", "noise_multiplier", "delta"}``:
  tensorflow-privacy's ``compute_dp_sgd_privacy_statement`` (Poisson sampling line).
- ``{"op": "mia", "loss_train": [...], "loss_test": [...]}``: its membership-inference
  attack suite (threshold attack on losses), AUC and attacker advantage.
- ``{"op": "batch", "requests": [...]}``: several of the above, one TensorFlow import.

``run_in_tfp_venv`` is the main-environment side: it finds the venv and runs the script.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

VENV = ".venv-tfp"
SETUP = "scripts/setup-tfp"


def _statement(req: dict[str, Any]) -> dict[str, Any]:
    from tensorflow_privacy.privacy.analysis.compute_dp_sgd_privacy_lib import (
        compute_dp_sgd_privacy_statement,
    )

    text = compute_dp_sgd_privacy_statement(
        number_of_examples=req["n"],
        batch_size=req["batch_size"],
        num_epochs=req["epochs"],
        noise_multiplier=req["noise_multiplier"],
        delta=req["delta"],
        used_microbatching=False,
    )
    poisson = re.search(r"Poisson sampling \(\*\):\s+([0-9.]+|inf)", text)
    return {"statement": text, "epsilon_poisson_rdp": float(poisson.group(1)) if poisson else None}


def _mia(req: dict[str, Any]) -> dict[str, Any]:
    import numpy as np
    from tensorflow_privacy.privacy.privacy_tests.membership_inference_attack import (
        membership_inference_attack as mia,
    )
    from tensorflow_privacy.privacy.privacy_tests.membership_inference_attack.data_structures import (
        AttackInputData,
        AttackType,
        SlicingSpec,
    )

    data = AttackInputData(
        loss_train=np.asarray(req["loss_train"], dtype=np.float64),
        loss_test=np.asarray(req["loss_test"], dtype=np.float64),
    )
    results = mia.run_attacks(
        data, SlicingSpec(entire_dataset=True), attack_types=[AttackType.THRESHOLD_ATTACK]
    )
    best = results.get_result_with_max_auc()
    return {
        "auc": float(best.get_auc()),
        "attacker_advantage": float(best.get_attacker_advantage()),
        "summary": results.summary(by_slices=False),
    }


def _batch(req: dict[str, Any]) -> dict[str, Any]:
    """Several requests in one process: TensorFlow is imported once (seconds each time)."""
    return {"answers": [_OPS[r["op"]](r) for r in req["requests"]]}


_OPS = {"statement": _statement, "mia": _mia, "batch": _batch}


def _main() -> int:
    req = json.loads(sys.stdin.read())
    print(json.dumps(_OPS[req["op"]](req)))
    return 0


def tfp_python(repo: str | Path) -> Path:
    """The venv's interpreter; an error that says how to create it when it is missing."""
    py = Path(repo) / VENV / "bin" / "python"
    if not py.is_file():
        raise FileNotFoundError(f"{py} not found: run {SETUP} to create the tensorflow-privacy environment")
    return py


def run_in_tfp_venv(repo: str | Path, request: dict[str, Any], timeout: float = 300) -> dict[str, Any]:
    """Run one request in ``.venv-tfp`` and return its answer."""
    proc = subprocess.run(
        [str(tfp_python(repo)), str(Path(__file__).resolve())],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin", "CUDA_VISIBLE_DEVICES": ""},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"tensorflow-privacy bridge failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    raise SystemExit(_main())

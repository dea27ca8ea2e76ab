"""One training run end to end: train, account, write model + signed report + audit record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from privacy.dp.config import TrainConfig
from privacy.dp.data import Dataset
from privacy.dp.report import audit_payload, build_report, check_audit_store, write_audit_record, write_report
from privacy.dp.trainer import TrainResult, train

RUN_JSON = "run.json"


def run_training(
    cfg: TrainConfig, *, dataset: Dataset | None = None, audit: dict[str, Any] | None = None
) -> tuple[TrainResult, dict[str, Any] | None]:
    """Train; when the run is finished, write the report and the audit record next to the model."""
    check_audit_store(cfg.audit_store)
    result = train(cfg, dataset=dataset)
    if result.status == "stopped":
        return result, None
    out = Path(cfg.out)
    report = build_report(result.to_dict(), cfg.to_dict(), audit)
    signature = write_report(out, report, signing_key=cfg.signing_key)
    record = {
        "config": {k: v for k, v in cfg.to_dict().items() if k not in ("signing_key",)},
        "result": result.to_dict(),
    }
    (out / RUN_JSON).write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    write_audit_record(cfg.audit_store, audit_payload(report, signature))
    return result, report


def load_run(run_dir: str | Path) -> dict[str, Any]:
    from privacy.dp.errors import DPError

    p = Path(run_dir) / RUN_JSON
    if not p.is_file():
        raise DPError(
            f"{run_dir}: not a training run directory (no {RUN_JSON}); train with 'privacy train' first"
        )
    return json.loads(p.read_text(encoding="utf-8"))

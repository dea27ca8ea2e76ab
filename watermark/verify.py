"""``watermark verify``: every applicable test, Holm-Bonferroni, a signed report.

Tests live in an explicit registry (name -> function). Each returns a TestOutcome or
raises NotApplicableError; the family for the multiple-testing rule is the set of
applicable tests, fixed by the registry and the directory's contents before any
p-value is seen. A test that ran but had too little evidence enters with p = 1.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from watermark.errors import NotApplicableError
from watermark.keys import WatermarkKey
from watermark.modeldir import ModelDir
from watermark.stats import holm

VERSION = "watermark-verify/1"


@dataclass
class TestOutcome:
    statistic: str
    p_value: float
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class VerifyContext:
    suspect: ModelDir
    key: WatermarkKey
    reference: ModelDir | None = None
    _lm: tuple[Any, Any] | None = None
    _lm_error: str | None = None

    def causal_lm(self) -> tuple[Any, Any]:
        """Load the suspect as a causal LM once, for all black-box tests."""
        if self._lm is None and self._lm_error is None:
            try:
                self._lm = self.suspect.load_causal_lm()
            except NotApplicableError as exc:
                self._lm_error = str(exc)
        if self._lm is None:
            raise NotApplicableError(self._lm_error or "not a causal LM")
        return self._lm


TestFn = Callable[[VerifyContext], TestOutcome]
TESTS: dict[str, TestFn] = {}


def register(name: str, fn: TestFn) -> None:
    TESTS[name] = fn


def _weight_test(ctx: VerifyContext) -> TestOutcome:
    from watermark.weights import extract

    perm = None
    if ctx.reference is not None:  # decided before any p-value: align iff a reference is given
        from watermark.align import residual_permutation

        perm = residual_permutation(ctx.suspect, ctx.reference)
    r = extract(ctx.suspect.tensor, ctx.suspect.names(), ctx.key, channel_perm=perm)
    details = {**r.to_dict(), "aligned_to_reference": perm is not None,
               "channels_moved": 0 if perm is None else int((perm != torch.arange(perm.numel())).sum())}
    return TestOutcome(f"{r.n_match}/{r.n_bits} bits match", r.p_value, details)


def _fingerprint_test(ctx: VerifyContext) -> TestOutcome:
    from watermark.fingerprint import verify

    model, tok = ctx.causal_lm()
    r = verify(model, tok, ctx.key)
    return TestOutcome(f"{r.n_match}/{r.n_prompts} keyed answers", r.p_value, r.to_dict())


def _radioactivity_test(ctx: VerifyContext) -> TestOutcome:
    from watermark.radioactivity import test

    model, tok = ctx.causal_lm()
    r = test(model, tok, ctx.key)
    if r.p_value is None:
        return TestOutcome(f"{r.n_scored} tokens: too little evidence", 1.0, r.to_dict())
    return TestOutcome(f"z={r.z:.2f} over {r.n_scored} tokens", r.p_value, r.to_dict())


def _similarity_test(ctx: VerifyContext) -> TestOutcome:
    from watermark.similarity import compare

    if ctx.reference is None:
        raise NotApplicableError("no --reference given")
    r = compare(ctx.suspect, ctx.reference, ctx.key)
    return TestOutcome(f"r={r.best_r:.3f} ({r.n_tensors} tensors)", r.p_value, r.to_dict())


register("weight_watermark", _weight_test)
register("trigger_fingerprint", _fingerprint_test)
register("text_radioactivity", _radioactivity_test)
register("weight_similarity", _similarity_test)


def _files_digest(hashes: dict[str, str]) -> str:
    h = hashlib.sha256()
    for name, digest in sorted(hashes.items()):
        h.update(f"{name}\x00{digest}\n".encode())
    return h.hexdigest()


def run_verify(suspect_dir: str | Path, key: WatermarkKey, reference_dir: str | Path | None = None,
               alpha: float = 1e-3, progress: bool = False, tests: list[str] | None = None) -> dict[str, Any]:
    """Run the tests and return the signed report (a JSON-able dict)."""
    from tqdm import tqdm

    from watermark.report import sign

    start = time.perf_counter()
    suspect = ModelDir.open(suspect_dir)
    reference = ModelDir.open(reference_dir) if reference_dir is not None else None
    ctx = VerifyContext(suspect, key, reference)
    names = tests or list(TESTS)
    rows: list[dict[str, Any]] = []
    for name in tqdm(names, desc="verify", disable=not progress):
        try:
            out = TESTS[name](ctx)
        except NotApplicableError as exc:
            rows.append({"name": name, "applicable": False, "detail": str(exc), "p_value": None})
            continue
        rows.append({"name": name, "applicable": True, "statistic": out.statistic,
                     "p_value": out.p_value, "details": out.details})
    applicable = [r for r in rows if r["applicable"]]
    rejected, adjusted = holm([r["p_value"] for r in applicable], alpha)
    for r, rej, adj in zip(applicable, rejected, adjusted, strict=True):
        r["rejected"], r["holm_p"] = rej, adj
    hashes = suspect.file_hashes()
    report: dict[str, Any] = {
        "format": VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "suspect": {"path": str(Path(suspect_dir).resolve()), "model_type": suspect.model_type,
                    "n_files": len(hashes), "file_sha256": hashes, "files_digest": _files_digest(hashes)},
        "reference": None if reference is None else {
            "path": str(Path(reference_dir).resolve()), "files_digest": _files_digest(reference.file_hashes())},
        "key": {"key_id": key.key_id, "commitment": key.commitment},
        "alpha": alpha,
        "multiple_testing": "holm-bonferroni",
        "tests": rows,
        "verdict": {"evidence": any(rejected), "combined_p": min(adjusted, default=1.0),
                    "n_applicable": len(applicable)},
        "elapsed_s": round(time.perf_counter() - start, 3),
    }
    return sign(report, key)


def record_audit(report: dict[str, Any], url: str) -> int:
    """Append the report summary to the audit log (audit.log is built on another branch)."""
    try:
        from audit.log import open_log
    except ImportError as exc:
        raise NotApplicableError(f"audit log support is not installed ({exc})") from None
    payload = {
        "suspect_files_digest": report["suspect"]["files_digest"],
        "key_id": report["key"]["key_id"],
        "commitment": report["key"]["commitment"],
        "verdict": report["verdict"],
        "tests": [{k: t.get(k) for k in ("name", "applicable", "p_value", "holm_p", "rejected")} for t in report["tests"]],
        "signature": report["signature"]["value"],
    }
    with open_log(url) as log:
        return log.append("watermark.verify", payload)

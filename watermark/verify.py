"""``watermark verify``: every applicable test, Holm-Bonferroni, a signed report.

Tests live in an explicit registry (name -> function). Each returns a TestOutcome or
raises NotApplicableError; the family for the multiple-testing rule is the set of
applicable tests, fixed by the registry and the directory's contents before any
p-value is seen. A test that ran but had too little evidence enters with p = 1, and so
does a test that applied but could not run (a NaN in the weights, a crash in generation):
it is recorded with its reason, the other tests go on, and the report is still written
and signed. Non-finite weights are counted per tensor and reported, never fatal.
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
    _model_only: Any = None

    def causal_lm(self) -> tuple[Any, Any]:
        """Load the suspect as a causal LM once, for all black-box tests."""
        if self._lm is None and self._lm_error is None:
            try:
                self._lm = self.suspect.load_causal_lm()
            except NotApplicableError as exc:
                self._lm_error = str(exc)
            except Exception as exc:  # a model transformers chokes on: the black-box tests cannot run
                raise TestCannotRun(
                    f"loading the model failed ({type(exc).__name__}: {_short(exc)})"
                ) from None
        if self._lm is None:
            raise NotApplicableError(self._lm_error or "not a causal LM")
        return self._lm

    def lm_model(self) -> Any:
        """The suspect as a causal LM, with or without a tokenizer (tests that need token ids only)."""
        if self.suspect.has_tokenizer():
            return self.causal_lm()[0]
        if self._model_only is None:
            try:
                self._model_only = self.suspect.load_causal_lm(tokenizer=False)[0]
            except NotApplicableError:
                raise
            except Exception as exc:
                raise TestCannotRun(
                    f"loading the model failed ({type(exc).__name__}: {_short(exc)})"
                ) from None
        return self._model_only


class TestCannotRun(Exception):
    """A test applies to the directory but could not run; it enters the family with p = 1."""


def _short(exc: BaseException, limit: int = 160) -> str:
    msg = " ".join(str(exc).split())
    return msg if len(msg) <= limit else msg[: limit - 3] + "..."


def json_safe(obj: Any) -> Any:
    """NaN and infinities are not JSON (nor RFC 8785): write them as strings, recursively."""
    if isinstance(obj, float) and (obj != obj or obj in (float("inf"), float("-inf"))):
        return str(obj)
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


def weights_health(md: ModelDir) -> dict[str, Any]:
    """Count NaN/inf entries per floating-point tensor (read one at a time)."""
    bad: list[dict[str, Any]] = []
    n = 0
    for name in md.names():
        try:
            t = md.tensor(name)
        except Exception as exc:  # an unreadable tensor is reported like a non-finite one
            bad.append({"name": name, "nonfinite": -1, "error": type(exc).__name__})
            continue
        n += 1
        if t.is_floating_point():
            k = int((~torch.isfinite(t)).sum())
            if k:
                bad.append({"name": name, "nonfinite": k, "numel": t.numel()})
    return {"n_tensors": n, "nonfinite_tensors": bad}


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
    details = {
        **r.to_dict(),
        "aligned_to_reference": perm is not None,
        "channels_moved": 0 if perm is None else int((perm != torch.arange(perm.numel())).sum()),
    }
    return TestOutcome(f"{r.n_match}/{r.n_bits} bits match", r.p_value, details)


def _functional_test(ctx: VerifyContext) -> TestOutcome:
    from watermark.functional import verify

    r = verify(ctx.lm_model(), ctx.key)
    return TestOutcome(f"{r.n_match}/{r.n_bits} keyed logit signs", r.p_value, r.to_dict())


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
register("functional_watermark", _functional_test)
register("trigger_fingerprint", _fingerprint_test)
register("text_radioactivity", _radioactivity_test)
register("weight_similarity", _similarity_test)


def _files_digest(hashes: dict[str, str]) -> str:
    h = hashlib.sha256()
    for name, digest in sorted(hashes.items()):
        h.update(f"{name}\x00{digest}\n".encode())
    return h.hexdigest()


def run_verify(
    suspect_dir: str | Path,
    key: WatermarkKey,
    reference_dir: str | Path | None = None,
    alpha: float = 1e-3,
    progress: bool = False,
    tests: list[str] | None = None,
) -> dict[str, Any]:
    """Run the tests and return the signed report (a JSON-able dict)."""
    from tqdm import tqdm

    from watermark.report import sign

    start = time.perf_counter()
    suspect = ModelDir.open(suspect_dir)
    reference = ModelDir.open(reference_dir) if reference_dir is not None else None
    ctx = VerifyContext(suspect, key, reference)
    names = tests or list(TESTS)
    rows: list[dict[str, Any]] = []
    unknown = [n for n in names if n not in TESTS]
    if unknown:
        raise ValueError(f"unknown test(s) {unknown}; known: {sorted(TESTS)}")
    health = weights_health(suspect)
    for name in tqdm(names, desc="verify", disable=not progress):
        t0 = time.perf_counter()
        try:
            out = TESTS[name](ctx)
            p = float(out.p_value)
            if not 0.0 <= p <= 1.0:  # NaN included: a p-value we cannot trust is no evidence
                raise TestCannotRun(f"the test produced an invalid p-value ({out.p_value!r})")
        except NotApplicableError as exc:
            rows.append({"name": name, "applicable": False, "detail": str(exc), "p_value": None})
            continue
        except (KeyboardInterrupt, MemoryError):
            raise
        except Exception as exc:  # isolate: this test enters with p = 1 and its reason
            reason = str(exc) if isinstance(exc, TestCannotRun) else f"{type(exc).__name__}: {_short(exc)}"
            rows.append(
                {
                    "name": name,
                    "applicable": True,
                    "error": reason,
                    "statistic": "could not run",
                    "p_value": 1.0,
                    "details": {},
                    "elapsed_s": round(time.perf_counter() - t0, 3),
                }
            )
            continue
        rows.append(
            {
                "name": name,
                "applicable": True,
                "statistic": out.statistic,
                "p_value": p,
                "details": out.details,
                "elapsed_s": round(time.perf_counter() - t0, 3),
            }
        )
    applicable = [r for r in rows if r["applicable"]]
    rejected, adjusted = holm([r["p_value"] for r in applicable], alpha)
    for r, rej, adj in zip(applicable, rejected, adjusted, strict=True):
        r["rejected"], r["holm_p"] = rej, adj
    hashes = suspect.file_hashes()
    report: dict[str, Any] = {
        "format": VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "suspect": {
            "path": str(Path(suspect_dir).resolve()),
            "model_type": suspect.model_type,
            "n_files": len(hashes),
            "file_sha256": hashes,
            "files_digest": _files_digest(hashes),
        },
        "reference": None
        if reference is None
        else {
            "path": str(Path(reference_dir).resolve()),
            "files_digest": _files_digest(reference.file_hashes()),
        },
        "key": {"key_id": key.key_id, "commitment": key.commitment},
        "weights_health": health,
        "alpha": alpha,
        "multiple_testing": "holm-bonferroni",
        "tests": rows,
        "verdict": {
            "evidence": any(rejected),
            "combined_p": min(adjusted, default=1.0),
            "n_applicable": len(applicable),
        },
        "elapsed_s": round(time.perf_counter() - start, 3),
    }
    return sign(json_safe(report), key)


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
        "tests": [
            {k: t.get(k) for k in ("name", "applicable", "p_value", "holm_p", "rejected")}
            for t in report["tests"]
        ],
        "signature": report["signature"]["value"],
    }
    with open_log(url) as log:
        return log.append("watermark.verify", payload)

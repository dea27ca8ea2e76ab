"""The signed privacy report written next to the model, and the audit-log record.

The report (``privacy_report.json`` + ``privacy_report.txt``) says what was trained on
what, how, and with which guarantee: dataset fingerprint (hashes only), base model
hash, code version, every DP parameter, every accountant's epsilon, the empirical audit
result when there is one, and the output model hash. ``privacy_report.sig.json`` holds
an Ed25519 signature over the RFC 8785 canonical JSON of the report, so anyone with the
public key can check that the numbers were not edited after the fact.

The signing key comes from ``--signing-key FILE`` or ``PRIVACY_SIGNING_KEY_FILE`` (PEM,
PKCS#8). Without one, an ephemeral key signs the report and only its public key is kept:
the signature then proves integrity, not origin (the report says so).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from privacy.dp.errors import DPError

REPORT_JSON = "privacy_report.json"
REPORT_TXT = "privacy_report.txt"
REPORT_SIG = "privacy_report.sig.json"
AUDIT_EVENT = "privacy.train"


def code_version() -> str:
    """``git describe`` of the code that ran, or the package version."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        try:
            from importlib.metadata import version

            return version("compliance-gateway")
        except Exception:
            return "unknown"


def load_signing_key(path: str | None) -> tuple[Ed25519PrivateKey, bool]:
    """(key, persistent): from the file or env, else a fresh ephemeral key."""
    path = path or os.environ.get("PRIVACY_SIGNING_KEY_FILE")
    if not path:
        return Ed25519PrivateKey.generate(), False
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise DPError(f"signing key {path}: cannot read an unencrypted PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise DPError(f"signing key {path}: not an Ed25519 key")
    return key, True


def public_key_pem(key: Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def build_report(
    result: dict[str, Any], config: dict[str, Any], audit: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The report body: everything needed to defend the guarantee, and no record content."""
    acc = result.get("accounting") or {}
    return {
        "schema": "compliance-gateway/privacy-report/v1",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "code_version": code_version(),
        "status": result["status"],
        "dataset": result["dataset"],
        "base_model_sha256": result["base_model_sha256"],
        "output_model_sha256": result.get("output_model_sha256"),
        "dp": {
            "private": bool(config.get("private", True)),
            "mechanism": "DP-SGD, Poisson-subsampled Gaussian (Opacus)",
            "sampling": "poisson",
            "noise_multiplier": result["noise_multiplier"],
            "max_grad_norm": result["max_grad_norm"],
            "sample_rate": result["sample_rate"],
            "expected_batch_size": config.get("batch_size"),
            "steps": result["steps_done"],
            "planned_steps": result["planned_steps"],
            "epochs": config.get("epochs"),
            "records": result["n_records"],
            "grad_sample_mode": result["grad_sample_mode"],
            "lora_r": config.get("lora_r"),
            "target_epsilon": config.get("target_epsilon"),
            "delta": result["delta"],
            "unit_of_privacy": "one record (line) of the dataset",
        },
        "accountants": acc.get("epsilons"),
        "accountant_checks": acc.get("checks"),
        "epsilon": acc.get("epsilon"),
        "delta": result["delta"],
        "empirical_audit": audit,
    }


def report_text(report: dict[str, Any]) -> str:
    dp = report["dp"]
    lines = [
        "Privacy report (compliance-gateway)",
        f"status:            {report['status']}",
        f"guarantee:         ({report['epsilon'] if report['epsilon'] is None else round(report['epsilon'], 4)}, "
        f"{report['delta']:.3g})-DP per record, PRV accountant",
        f"dataset:           {report['dataset']['records']} records, sha256 {report['dataset']['records_sha256'][:16]}...",
        f"base model:        sha256 {report['base_model_sha256'][:16]}...",
        f"output model:      sha256 {(report['output_model_sha256'] or 'none')[:16]}...",
        f"code version:      {report['code_version']}",
        f"noise multiplier:  {dp['noise_multiplier']:.4f}   clip norm: {dp['max_grad_norm']}",
        f"sampling:          poisson, rate {dp['sample_rate']:.4g}, {dp['steps']}/{dp['planned_steps']} steps",
        "accountants:",
    ]
    for name, eps in (report.get("accountants") or {}).items():
        lines.append(f"  {name:<20} epsilon {eps:.4f}")
    for c in report.get("accountant_checks") or []:
        lines.append(
            f"  check {c['a']} vs {c['b']}: |diff| {c['difference']:.4f} <= {c['tolerance']:.4f} "
            f"{'ok' if c['ok'] else 'DISAGREE'}"
        )
    audit = report.get("empirical_audit")
    if audit:
        lines.append(
            f"empirical audit:   epsilon lower bound {audit['epsilon_lower_bound']:.3f} "
            f"(accounted {audit['accounted_epsilon']:.3f}), MIA AUC {audit['mia_auc']:.3f}, "
            f"mean exposure {audit['mean_exposure']:.2f} bits"
        )
    return "\n".join(lines) + "\n"


def sign(report: dict[str, Any], key: Ed25519PrivateKey, persistent: bool) -> dict[str, Any]:
    payload = rfc8785.dumps(report)
    return {
        "alg": "Ed25519",
        "canonicalization": "RFC 8785",
        "signature": base64.b64encode(key.sign(payload)).decode(),
        "public_key_pem": public_key_pem(key),
        "key": "persistent" if persistent else "ephemeral (integrity only, not origin)",
    }


def write_report(
    out: str | Path, report: dict[str, Any], *, signing_key: str | None = None
) -> dict[str, Any]:
    """Write JSON, text and signature next to the model; return the signature record."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    key, persistent = load_signing_key(signing_key)
    sig = sign(report, key, persistent)
    (out / REPORT_JSON).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (out / REPORT_TXT).write_text(
        report_text(report) + f"signature (Ed25519): {sig['signature']}\n", encoding="utf-8"
    )
    (out / REPORT_SIG).write_text(json.dumps(sig, indent=2) + "\n", encoding="utf-8")
    return sig


def verify_report(directory: str | Path, public_key_pem_text: str | None = None) -> bool:
    """True if the report in ``directory`` matches its signature (and the given key, if any)."""
    d = Path(directory)
    report = json.loads((d / REPORT_JSON).read_text(encoding="utf-8"))
    sig = json.loads((d / REPORT_SIG).read_text(encoding="utf-8"))
    pem = public_key_pem_text or sig["public_key_pem"]
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        return False
    try:
        key.verify(base64.b64decode(sig["signature"]), rfc8785.dumps(report))
    except Exception:
        return False
    return True


def audit_payload(report: dict[str, Any], signature: dict[str, Any]) -> dict[str, Any]:
    """The audit-log record: the report's facts (hashes and numbers only) and its signature."""
    return {
        "dataset": report["dataset"],
        "base_model_sha256": report["base_model_sha256"],
        "output_model_sha256": report["output_model_sha256"],
        "code_version": report["code_version"],
        "dp": report["dp"],
        "accountants": report["accountants"],
        "epsilon": report["epsilon"],
        "delta": report["delta"],
        "empirical_audit": report["empirical_audit"],
        "report_signature": signature["signature"],
        "status": report["status"],
    }


def check_audit_store(url: str | None) -> None:
    """Fail before training, not after, when the store URL names no store we can open."""
    if not url:
        return
    from audit.log import open_log

    try:
        with open_log(url):
            pass
    except Exception as exc:
        raise DPError(
            f"--audit-store {url.split('://')[0]}://...: cannot open the audit log ({type(exc).__name__}: "
            f"{exc}); nothing was trained"
        ) from exc


def write_audit_record(url: str | None, payload: dict[str, Any], event: str = AUDIT_EVENT) -> bool:
    """Append the record to the audit log at ``url``; False when no store was asked for.

    Fails closed: a store that was asked for but cannot be written is an error.
    """
    if not url:
        return False
    from audit.log import open_log

    with open_log(url) as log:
        log.append(event, payload)
    return True

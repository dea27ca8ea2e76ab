"""The verification report: canonical JSON, an Ed25519 signature, and a text rendering.

The signature covers the RFC 8785 canonical JSON of the whole report except the
``signature`` field, so anyone with the published public key (in the key file's public
record) can check that a report was produced with the key and not edited afterwards.
"""

from __future__ import annotations

import copy
from typing import Any

import rfc8785

from watermark.keys import WatermarkKey


def canonical(report: dict[str, Any]) -> bytes:
    body = {k: v for k, v in report.items() if k != "signature"}
    return rfc8785.dumps(body)


def sign(report: dict[str, Any], key: WatermarkKey) -> dict[str, Any]:
    signed = copy.deepcopy(report)
    signed["signature"] = {
        "algorithm": "Ed25519",
        "public_key": key.public_key_hex(),
        "canonicalization": "RFC8785",
        "value": key.signing_key().sign(canonical(report)).hex(),
    }
    return signed


def check_signature(report: dict[str, Any], public_key_hex: str | None = None) -> bool:
    """True if the report is unmodified and signed by ``public_key_hex`` (default: the embedded one)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    sig = report.get("signature") or {}
    pub = public_key_hex or sig.get("public_key", "")
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(pub)).verify(bytes.fromhex(sig["value"]), canonical(report))
    except (InvalidSignature, KeyError, ValueError):
        return False
    return True


def _fmt_p(p: float | None) -> str:
    if p is None:
        return "-"
    return "< 1e-300" if p == 0.0 else f"{p:.3g}"


def render_text(report: dict[str, Any]) -> str:
    lines = [
        f"watermark verify: {report['suspect']['path']}",
        f"  key id {report['key']['key_id']}  commitment {report['key']['commitment']}",
        f"  model type {report['suspect']['model_type']}, {report['suspect']['n_files']} files, "
        f"alpha {report['alpha']:g} (Holm-Bonferroni over the applicable tests)",
        "",
        f"  {'test':<22} {'statistic':<34} {'p-value':>10} {'Holm p':>10}  result",
    ]
    for t in report["tests"]:
        if not t["applicable"]:
            lines.append(f"  {t['name']:<22} not applicable: {t['detail']}")
            continue
        lines.append(
            f"  {t['name']:<22} {t['statistic']:<34} {_fmt_p(t['p_value']):>10} {_fmt_p(t['holm_p']):>10}  "
            f"{'EVIDENCE' if t['rejected'] else 'no evidence'}"
        )
    v = report["verdict"]
    lines += [
        "",
        f"  verdict: {'EVIDENCE that the suspect derives from the key holder' if v['evidence'] else 'no evidence'}"
        f" (combined p = {_fmt_p(v['combined_p'])}, alpha {report['alpha']:g})",
        f"  evidence hash (files): {report['suspect']['files_digest']}",
        f"  signed Ed25519 by {report['signature']['public_key'][:16]}...  in {report['elapsed_s']:.1f} s",
    ]
    return "\n".join(lines)

"""`gateway serve --check` runs exactly the validation that `gateway serve` runs.

For every broken configuration the serve tests use (and the ones that once
slipped through --check: an unknown plugin ``policyy``, ``policy.mode: opaa``,
``pii.default_operator: pseudonymise``, unknown operator names), --check exits
non-zero naming the key, and serve refuses at the same place with the same
message, before it binds a port. ``uvicorn.run`` is replaced by a stand-in that
runs the app's real start-up: if serve ever got that far with a config that
--check refused (or the other way round), the test says so.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway import cli
from gateway.policy.bundle import default_bundle_dir


class Served(BaseException):  # not an Exception: the CLI turns those into exit codes
    """serve accepted the config: it reached uvicorn.run and the app started."""


def _failing_bundle(tmp: Path) -> Path:
    import shutil

    dst = tmp / "bundle"
    shutil.copytree(default_bundle_dir(), dst, ignore=shutil.ignore_patterns("examples"))
    rego = dst / "gateway" / "pii_test.rego"
    rego.write_text(
        rego.read_text(encoding="utf-8") + "\ntest_always_fails if { 1 == 2 }\n", encoding="utf-8"
    )
    return dst


def _key(tmp: Path) -> Path:
    key = tmp / "pii.key"
    key.write_bytes(b"k" * 32)
    return key


def broken_configs(tmp: Path) -> list[tuple[str, dict[str, Any], str]]:
    """(id, config, the key the error must name)."""
    return [
        ("plugin-typo", {"plugins": ["auth", "policyy", "audit"]}, "plugins.1.name"),
        ("plugin-unknown", {"plugins": ["auth", "nope"]}, "plugins.1.name"),
        ("policy-mode", {"policy": {"mode": "opaa"}}, "policy.mode"),
        ("policy-engine", {"policy": {"engine": "nope"}}, "policy.engine"),
        ("policy-fail-open-route", {"policy": {"fail_open_routes": ["chatt"]}}, "policy.fail_open_routes"),
        ("policy-personal-claim", {"policy": {"claims": ["plan", "email"]}}, "policy.claims"),
        ("policy-bundle-missing", {"policy": {"bundle_dir": str(tmp / "nowhere")}}, "policy.bundle_dir"),
        (
            "policy-bundle-test-fails",
            {"policy": {"bundle_dir": str(_failing_bundle(tmp))}},
            "policy.bundle_dir",
        ),
        ("pii-default-operator", {"pii": {"default_operator": "pseudonymise"}}, "pii.default_operator"),
        ("pii-operator", {"pii": {"operators": {"EMAIL_ADDRESS": "scramble"}}}, "pii.operators"),
        (
            "pii-tenant-operator",
            {"pii": {"tenants": {"acme": {"operators": {"CREDIT_CARD": "shred"}}}}},
            "pii.tenants.acme.operators",
        ),
        ("pii-entity", {"pii": {"entities": ["CN_ID"]}}, "pii.entities"),
        ("pii-unknown-fields", {"pii": {"unknown_fields": "maybe"}}, "pii.unknown_fields"),
        (
            "pii-hash-without-key",
            {"pii": {"default_operator": "hash", "hash_key_env": None}},
            "pii.hash_key_file",
        ),
        ("pii-key-file-missing", {"pii": {"hash_key_file": str(tmp / "no-key")}}, "pii.hash_key_file"),
        (
            "pii-durable-without-store",
            {"pii": {"tenants": {"acme": {"durable_pseudonyms": True}}, "hash_key_file": str(_key(tmp))}},
            "pii.pseudonym_store",
        ),
        ("pii-ner-model", {"pii": {"ner": {"model": "no_such_spacy_model"}}}, "pii.ner.model"),
        ("rate-limit-backend", {"rate_limit": {"backend": "memcached"}}, "rate_limit.backend"),
        ("server-port", {"server": {"port": 99999}}, "server.port"),
        ("auth-typo", {"auth": {"algoritms": ["RS256"]}}, "auth.algoritms"),
        ("upstream-url", {"upstreams": [{"name": "a", "url": "ftp://x"}]}, "upstreams.0.url"),
    ]


def _base(tmp: Path) -> dict[str, Any]:
    # Everything offline: a JSON-lines audit file, in-process rate limits, the shipped bundle; the
    # name model only where a case is about it (loading it is most of the cost of a check).
    return {
        "plugins": ["auth", "ratelimit", "pii", "policy", "audit"],
        "audit": {"store": f"jsonl://{tmp / 'audit.jsonl'}"},
        "pii": {"ner": {"enabled": False}},
        "policy": {"reload_interval_s": 0},
        "upstreams": [{"name": "u", "url": "http://127.0.0.1:9"}],
    }


def _write(tmp: Path, name: str, patch: dict[str, Any]) -> Path:
    cfg = _base(tmp)
    for k, v in patch.items():
        cfg[k] = {**cfg[k], **v} if isinstance(v, dict) and isinstance(cfg.get(k), dict) else v
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


@pytest.fixture
def fake_uvicorn(monkeypatch: pytest.MonkeyPatch):
    """serve's uvicorn.run: start the app for real (lifespan start-up), then report that serve got there."""
    import uvicorn

    def run(app: Any, **kwargs: Any) -> None:
        async def start_stop() -> None:
            await app.startup()
            await app.shutdown()

        asyncio.run(start_stop())
        raise Served()

    monkeypatch.setattr(uvicorn, "run", run)
    monkeypatch.delenv("CG_PII_HASH_KEY", raising=False)


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int | str, str]:
    try:
        code: int | str = cli.main(args)
    except Served:
        code = "served"
    return code, capsys.readouterr().err


def test_check_and_serve_refuse_the_same_configs_naming_the_key(tmp_path, fake_uvicorn, capsys):
    for name, patch, key in broken_configs(tmp_path):
        path = _write(tmp_path, name, patch)
        code, err = _cli(["serve", "--config", str(path), "--check"], capsys)
        assert code == 2 and key in err and "Traceback" not in err, (name, code, err)
        served, serve_err = _cli(["serve", "--config", str(path)], capsys)
        assert served == 2, f"{name}: --check refused it but serve did not ({served})"
        assert serve_err.replace("serve:", "") == err.replace("serve:", ""), name  # the same message


def test_a_good_config_passes_check_and_serve_starts(tmp_path, fake_uvicorn, capsys):
    path = _write(
        tmp_path,
        "good",
        {
            "pii": {
                "default_operator": "hash",
                "hash_key_file": str(_key(tmp_path)),
                "unknown_fields": "reject",
            },
            "policy": {"fail_open_routes": ["embeddings"]},
        },
    )
    code, err = _cli(["serve", "--config", str(path), "--check"], capsys)
    assert code == 0, err
    served, err = _cli(["serve", "--config", str(path)], capsys)
    assert served == "served", err


def test_check_in_a_real_process(tmp_path):
    """The console script itself: a bundle whose own tests fail, and the typo that --check once let through."""
    env_cmd = [sys.executable, "-m", "gateway", "serve", "--check", "--config"]
    bundle = _write(
        tmp_path,
        "bundle",
        {"policy": {"bundle_dir": str(_failing_bundle(tmp_path))}, "plugins": ["auth", "policy", "audit"]},
    )
    out = subprocess.run([*env_cmd, str(bundle)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "policy.bundle_dir" in out.stderr and "test_always_fails" in out.stderr
    assert "Traceback" not in out.stderr
    typo = _write(tmp_path, "typo", {"plugins": ["auth", "policyy", "audit"]})
    out = subprocess.run([*env_cmd, str(typo)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "plugins.1.name: unknown plugin 'policyy'" in out.stderr

"""Configuration validation, the plugin chain order and third-party plugins via entry points."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import httpx
import orjson
import pytest

from gateway.config import ConfigError, load_config
from tests.gateway.conftest import audit_events, auth

CHAT = {"model": "echo-1", "messages": [{"role": "user", "content": "my email is jane.doe@example.com"}]}


def test_invalid_config_names_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("server:\n  port: 99999\n")
    with pytest.raises(ConfigError, match=r"server\.port"):
        load_config(bad, environ={})
    bad.write_text("upstreams:\n  - name: a\n    url: ftp://x\n")
    with pytest.raises(ConfigError, match=r"upstreams\.0\.url"):
        load_config(bad, environ={})
    bad.write_text("auth:\n  algoritms: [RS256]\n")
    with pytest.raises(ConfigError, match=r"auth\.algoritms"):
        load_config(bad, environ={})
    bad.write_text("server: [\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_config(bad, environ={})
    # The CLI stops at start with the key named, exit code 2, no traceback.
    bad.write_text("rate_limit:\n  backend: memcached\n")
    out = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--config", str(bad), "--check"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    assert "rate_limit.backend" in out.stderr and "Traceback" not in out.stderr


def test_env_and_flags_override_file(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("server:\n  port: 9000\nauth:\n  issuer: file-iss\n")
    cfg = load_config(
        f,
        environ={"CG_SERVER__PORT": "9100", "CG_AUTH__AUDIENCE": "env-aud"},
        overrides={"auth": {"issuer": "flag-iss"}},
    )
    assert cfg.server.port == 9100 and cfg.auth.audience == "env-aud" and cfg.auth.issuer == "flag-iss"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway",
            "serve",
            "--config",
            str(f),
            "--check",
            "--upstream",
            "http://10.0.0.1:8000",
            "--jwt-audience",
            "a1",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    dumped = orjson.loads(out.stdout)
    assert dumped["upstreams"][0]["url"] == "http://10.0.0.1:8000" and dumped["auth"]["audience"] == "a1"


def test_unknown_plugin_fails_at_start():
    with pytest.raises(ConfigError, match=r"plugins\.1\.name: unknown plugin 'nope'"):
        from gateway.hosts.proxy.app import GatewayApp

        GatewayApp(load_config(None, overrides={"plugins": ["auth", "nope"]}, environ={}))


PLUGIN_SRC = textwrap.dedent("""
    from pydantic import BaseModel
    from gateway.chain.plugins import Plugin

    class Tagger(Plugin):
        name = "tagger"
        class Settings(BaseModel):
            tag: str
        async def on_request(self, ctx):
            ctx.body["messages"].append({"role": "system", "content": "tag=" + self.settings.tag})
            ctx.response_headers.append(("x-tagger", self.settings.tag))
        async def on_response(self, ctx):
            ctx.response["choices"][0]["message"]["content"] += " [" + self.settings.tag + "]"
        def on_chunk(self, ctx, chunk):
            return [chunk, chunk]  # doubles every event
""")


def test_third_party_plugin_via_entry_point(upstream, gateway_factory, token, tmp_path, monkeypatch):
    """A real distribution on sys.path with an entry point in compliance_gateway.plugins."""
    site = tmp_path / "site"
    (site / "cg_tagger").mkdir(parents=True)
    (site / "cg_tagger" / "__init__.py").write_text(PLUGIN_SRC)
    dist = site / "cg_tagger-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: cg-tagger\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[compliance_gateway.plugins]\ntagger = cg_tagger:Tagger\n")
    monkeypatch.syspath_prepend(str(site))
    up, up_url = upstream
    url, app = gateway_factory(
        upstreams=[{"name": "u", "url": up_url}],
        plugins=["auth", {"name": "tagger", "settings": {"tag": "T1"}}, "audit"],
    )
    assert [s.name for s in app.pipeline.stages] == ["auth", "route", "tagger", "audit"]
    r = httpx.post(f"{url}/v1/chat/completions", json=CHAT, headers=auth(token))
    assert r.status_code == 200 and r.headers["x-tagger"] == "T1"
    assert r.json()["choices"][0]["message"]["content"].endswith("[T1]")
    assert up.received[-1]["messages"][-1] == {"role": "system", "content": "tag=T1"}
    with httpx.stream(
        "POST", f"{url}/v1/chat/completions", json={**CHAT, "stream": True}, headers=auth(token)
    ) as s:
        events = [ln for ln in s.iter_lines() if ln.startswith("data: {")]
    assert len(events) == 2 * len("echo says: my email is jane.doe@example.com".split(" "))
    # Bad settings for a third-party plugin are named too.
    with pytest.raises(ConfigError, match=r"plugins\.0\.settings\.tag"):
        from gateway.hosts.proxy.app import GatewayApp

        GatewayApp(load_config(None, overrides={"plugins": [{"name": "tagger", "settings": {}}]}, environ={}))


def test_audit_event_per_request_without_raw_pii(upstream, gateway_factory, token, tmp_path):
    _, up_url = upstream
    # echo-1 is listed by name: a configured model name is kept in plain text (others are not).
    url, _ = gateway_factory(upstreams=[{"name": "u", "url": up_url, "models": ["echo-1", "*"]}])
    assert httpx.post(f"{url}/v1/chat/completions", json=CHAT, headers=auth(token)).status_code == 200
    assert httpx.post(f"{url}/v1/chat/completions", json=CHAT).status_code == 401
    assert httpx.post(f"{url}/v1/chat/completions", content=b"{", headers=auth(token)).status_code == 400
    events = audit_events(tmp_path / "audit.jsonl", 3)
    raw = (tmp_path / "audit.jsonl").read_bytes()
    assert [e["payload"]["status"] for e in events] == [200, 401, 400]
    ok = events[0]
    assert ok["tenant"] == "acme" and ok["actor"] and ok["actor"] != "alice"
    p = ok["payload"]
    assert p["model"] == "echo-1" and p["upstream"] == "u" and p["decision"] == "allow"
    assert p["completion_tokens"] == 6 and "auth" in p["timings_ms"]
    assert (
        events[1]["payload"]["decision"] == "deny" and events[1]["payload"]["error_code"] == "missing_token"
    )
    assert b"jane.doe" not in raw and b"alice" not in raw


def test_audit_unwritable_fails_closed(upstream, gateway_factory, token, tmp_path):
    _, up_url = upstream
    target = tmp_path / "ro" / "audit.jsonl"
    url, app = gateway_factory(upstreams=[{"name": "u", "url": up_url}], audit={"store": f"jsonl://{target}"})
    assert httpx.post(f"{url}/v1/chat/completions", json=CHAT, headers=auth(token)).status_code == 200
    plugin = app.pipeline.plugin("audit")
    plugin.writer._fh.close()  # the disk goes away under the writer
    httpx.post(f"{url}/v1/chat/completions", json=CHAT, headers=auth(token))
    time.sleep(0.3)
    r = httpx.post(f"{url}/v1/chat/completions", json=CHAT, headers=auth(token))
    assert r.status_code == 503 and r.json()["error"]["code"] == "audit_unavailable"
    assert httpx.get(f"{url}/readyz").status_code == 503


def test_internal_error_is_500_and_logs_no_message(upstream, gateway_factory, token, caplog):
    """A plugin bug whose exception quotes the request: the client gets a generic 500, the log
    gets the exception type and frames, and neither gets the quoted personal data."""
    from gateway.chain.plugins import Plugin, register

    class Leaky(Plugin):
        name = "leaky"

        async def on_request(self, ctx):
            raise RuntimeError("cannot handle " + ctx.body["messages"][0]["content"])

    register("leaky", Leaky)
    _, up_url = upstream
    url, _ = gateway_factory(upstreams=[{"name": "u", "url": up_url}], plugins=["auth", "leaky"])
    with caplog.at_level("ERROR"):
        r = httpx.post(f"{url}/v1/chat/completions", json=CHAT, headers=auth(token))
    assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error"
    assert "jane.doe" not in r.text
    logged = "\n".join(rec.getMessage() for rec in caplog.records)
    assert "RuntimeError" in logged and "on_request" in logged
    assert "jane.doe" not in logged


def test_example_config_is_valid_for_every_plugin():
    """examples/gateway.yaml documents every section: it must stay loadable, plugin sections included."""
    from pathlib import Path

    from gateway.chain.pipeline import build_plugins

    path = Path(__file__).resolve().parents[2] / "examples" / "gateway.yaml"
    plugins = build_plugins(load_config(path, environ={}))
    assert [p.name for p in plugins] == ["auth", "ratelimit", "pii", "policy", "audit"]

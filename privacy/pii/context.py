"""Context words around a match, shared by the recognizers and the engine.

- ``strip_invisible`` + ``analysis_copy``: what the recognizers see. Invisible characters
  (zero-width space/joiners, word joiner, BOM, soft hyphen, bidi marks) are removed, with an
  offset map back to the original; full-width forms become ASCII (１３８ -> 138, ＠ -> @) and the
  ideographic space a space, one character for one. Findings are mapped back to the original.
- Phone cues: a phone-shaped number next to one of these words is a phone, whether
  or not ``phonenumbers`` knows its area code.
- Reference labels (order, invoice, ticket, tracking, waybill ... 订单号, 运单号, 工单):
  a number right after one is a reference, not a card or a phone, unless a card/phone cue
  is nearer to it than the label.
"""

from __future__ import annotations

import re
from bisect import bisect_right

_TABLE: dict[int, int | str] = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}  # full-width ASCII
_TABLE[0x3000] = " "
_TABLE[0x2028] = "\n"
_TABLE[0x2029] = "\n"
_NEEDS = re.compile(r"[\uff01-\uff5e\u3000\u2028\u2029]")
# Invisible format characters: zero-width space/joiners, word joiner, BOM, soft hyphen, bidi marks
# and isolates, Mongolian vowel separator, variation selectors. Removed from the analysis copy.
# Emoji between two letters ("Ma😀ria", "王😀小明") are removed the same way: they split no name.
INVISIBLE = re.compile(
    r"[\u200b-\u200f\u2060-\u2064\ufeff\u00ad\u202a-\u202e\u2066-\u2069\u180e\ufe00-\ufe0f]+"
    r"|(?<=[^\W\d_])[\U0001F000-\U0001FAFF\u2600-\u27BF\u200d\ufe0f]+(?=[^\W\d_])"
)


def analysis_copy(text: str) -> str:
    """Same length as ``text``; only 1:1 character replacements (full-width forms to ASCII)."""
    if _NEEDS.search(text) is None:
        return text
    return text.translate(_TABLE)


def strip_invisible(text: str) -> tuple[str, list[int] | None]:
    """``text`` without invisible characters, and for each of its positions the position in
    ``text`` (``None`` when there was nothing to remove). 138\u200b1234\u200b5678 -> 13812345678,
    王\u200f小明 -> 王小明; findings on the clean copy are mapped back with ``map_span``."""
    if INVISIBLE.search(text) is None:
        return text, None
    keep: list[int] = []
    out: list[str] = []
    pos = 0
    for m in INVISIBLE.finditer(text):
        out.append(text[pos : m.start()])
        keep.extend(range(pos, m.start()))
        pos = m.end()
    out.append(text[pos:])
    keep.extend(range(pos, len(text)))
    keep.append(len(text))  # the end position
    return "".join(out), keep


def map_span(index: list[int] | None, start: int, end: int) -> tuple[int, int]:
    """A span of the clean copy as a span of the original (invisible characters inside it included)."""
    if index is None:
        return start, end
    return index[start], (index[end - 1] + 1 if end > start else index[start])


_TOKEN = re.compile(r"[a-zà-ÿ]+")


class CueWords:
    """A list of cue words found by word lookup, not by one big regex alternation.

    Latin-script cues are sequences of words (``phone no``, ``c/b`` = ``c`` ``b``, ``tel.-nr``)
    matched on the text's words (anything between words is ignored); CJK cues are found with
    ``str.find``. One scan per text: a 150-way regex alternation tried at every position cost
    ~3 ms per KB, this costs ~0.1 ms.
    """

    def __init__(self, words: str) -> None:
        self.phrases: dict[int, set[tuple[str, ...]]] = {}
        self.cjk: list[str] = []
        for w in words.split("|"):
            w = w.strip()
            if not w:
                continue
            toks = tuple(_TOKEN.findall(w))
            if w[0].isascii() and toks:
                self.phrases.setdefault(len(toks), set()).add(toks)
            elif not w[0].isascii():
                self.cjk.append(w)
        self.max_len = max(self.phrases, default=0)

    def spans(self, lowered: str) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        if self.phrases:
            toks = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(lowered)]
            words = [t[2] for t in toks]
            for i in range(len(toks)):
                for k in range(min(self.max_len, len(toks) - i), 0, -1):
                    group = self.phrases.get(k)
                    if group and tuple(words[i : i + k]) in group:
                        out.append((toks[i][0], toks[i + k - 1][1]))
                        break
        for w in self.cjk:
            i = lowered.find(w)
            while i >= 0:
                out.append((i, i + len(w)))
                i = lowered.find(w, i + 1)
        out.sort(key=lambda sp: sp[1])
        return out

    def search(self, lowered: str) -> bool:
        return bool(self.spans(lowered))


def _words(words: str) -> CueWords:
    return CueWords(words)


PHONE_CUES = _words(
    "phone|phones|telephone|tel|tel no|tele|ph|ph no|phone no|phone number|call|called|calling|callback|call back|"
    "call-back|cb|c/b|caller id|callerid|reach me|reach him|reach her|reach us|reach|ring|ring me|dial|dialled|"
    "dialed|mobile|mob|cell|cellphone|cell phone|fax|text me|text|txt|sms|whatsapp|signal|viber|contact no|"
    "contact number|best number|my number|our number|his number|her number|the number is|number to call|"
    "direct line|hotline|landline|extension|voicemail|vm|"
    "telefon|telefonnummer|tel\\.-nr|handy|handynummer|mobil|mobilnummer|rückruf|erreichbar|anrufen|"
    "téléphone|portable|appeler|teléfono|móvil|celular|llamar|"
    "电话|手机|联系方式|联系电话|来电|回电|座机|拨打|致电|回拨|传真|微信|热线|打这个号|号码是|手机号|电话号码|"
    "電話|手機|聯繫|聯絡|来电号码"
)
CARD_CUES = _words(
    "card|cards|credit|debit|visa|mastercard|master card|amex|american express|discover|cc|cc#|cvv|"
    "kreditkarte|karte|carte|tarjeta|卡号|信用卡|银行卡|储蓄卡|借记卡|卡|帐号|账号|开户"
)
REF_LABELS = _words(
    "order|orders|order no|order number|order id|order #|purchase order|po|invoice|invoice no|inv|bill|receipt|"
    "ticket|case|case no|incident|ref|reference|tracking|tracking no|tracking number|tracking id|waybill|"
    "shipment|parcel|consignment|awb|customer id|customer no|account id|member id|transaction|txn|"
    "serial|serial no|sn|imei|build|version|ver|ts|timestamp|"
    "bestellung|bestellnummer|rechnung|rechnungsnummer|sendungsnummer|auftrag|auftragsnummer|kundennummer|"
    "vertragsnummer|customer number|member number|"
    "commande|facture|pedido|factura|"
    "订单|订单号|订单编号|单号|运单|运单号|快递单号|物流单号|工单|工单号|发票号|发票|流水号|交易号|编号|序列号|"
    "批次|版本|版本号|參考|訂單"
)
_PHONE_RE = PHONE_CUES
_CARD_RE = CARD_CUES
_REF_RE = REF_LABELS
BEFORE = 32
AFTER = 14


_INDEX: list[tuple[str, dict[int, list[tuple[int, int]]]]] = [("", {})]


def _spans(cues: CueWords, lowered: str) -> list[tuple[int, int]]:
    """Spans of every cue in ``lowered``, sorted by end: one scan per text, then bisect per number."""
    text, cache = _INDEX[0]
    if text is not lowered:
        cache = {}
        _INDEX[0] = (lowered, cache)  # one slot; a concurrent thread just recomputes its own
    spans = cache.get(id(cues))
    if spans is None:
        spans = cues.spans(lowered)
        cache[id(cues)] = spans
    return spans


def _last_end(cues: CueWords, lowered: str, start: int, width: int) -> int:
    """End offset of the last cue ending in the window before ``start``; -1 if none."""
    spans = _spans(cues, lowered)
    k = bisect_right(spans, start, key=lambda sp: sp[1]) - 1
    return spans[k][1] if k >= 0 and spans[k][1] >= start - width else -1


def phone_cue_near(lowered: str, start: int, end: int) -> bool:
    """A phone cue before the number (nearer than any reference label) or right after it."""
    cue = _last_end(_PHONE_RE, lowered, start, BEFORE)
    if cue >= 0 and cue >= _last_end(_REF_RE, lowered, start, BEFORE):
        return True
    for a, _b in _spans(_PHONE_RE, lowered):  # a cue right after it: "827-708-5965 (cell)"
        if end <= a <= end + AFTER and not re.search(r"[0-9]", lowered[end:a]):
            return True
    return False


def after_reference_label(lowered: str, start: int, cue: CueWords = _CARD_RE) -> bool:
    """The number follows an order/invoice/ticket... label (at most 16 characters between),
    and no ``cue`` (card words by default) stands nearer to it than the label."""
    ref = _last_end(_REF_RE, lowered, start, BEFORE)
    if ref < 0 or start - ref > 16:
        return False
    between = lowered[ref:start]
    if re.search(r"[0-9]", between):
        return False  # another number sits between the label and this one
    return _last_end(cue, lowered, start, BEFORE) <= ref


def ref_label_before(lowered: str, start: int) -> bool:
    return after_reference_label(lowered, start, _CARD_RE)


def ref_label_before_phone(lowered: str, start: int) -> bool:
    return after_reference_label(lowered, start, _PHONE_RE)

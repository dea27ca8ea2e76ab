"""E-mail addresses, ASCII local part so that adjacent CJK text is not swallowed."""

from __future__ import annotations

from presidio_analyzer import Pattern

from privacy.pii.recognizers.base import FastPatternRecognizer


class CgEmailRecognizer(FastPatternRecognizer):
    ENTITY = "EMAIL_ADDRESS"
    PRECHECK_SUBSTR = "@"
    PATTERNS = [
        Pattern(
            "email",
            r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9](?:[A-Za-z0-9._%+\-]{0,62}[A-Za-z0-9_%+\-])?"
            r"@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9\-])",
            0.9,
        )
    ]
    CONTEXT = ["email", "e-mail", "mail", "邮箱", "邮件"]

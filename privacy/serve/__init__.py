"""``privacy serve``: the PII engine behind Presidio's REST API (analyzer and anonymizer on one port)."""

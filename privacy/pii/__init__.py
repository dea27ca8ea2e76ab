"""The PII engine shared by the gateway plugin and the offline tools.

``PIIEngine`` (engine.py) finds personal data with Presidio pattern recognizers
(Presidio's own plus Chinese ones under ``recognizers/cn``) and a gated spaCy
NER for names; ``RedactionSession`` (operators.py) replaces what was found
with the configured operator per entity type and can restore pseudonyms.
"""

from privacy.pii.findings import Finding
from privacy.pii.settings import PIISettings

__all__ = ["Finding", "PIISettings"]

"""compliance-gateway: an OpenAI-compatible inference proxy with a compliance plugin chain."""

__version__ = "0.1.0"

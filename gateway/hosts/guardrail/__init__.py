"""LiteLLM's Generic Guardrail API host (``POST /beta/litellm_basic_guardrail_api`` on `gateway serve`)."""

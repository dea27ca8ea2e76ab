"""Our own OpenAI-compatible proxy (``gateway serve``): the embedded default host."""

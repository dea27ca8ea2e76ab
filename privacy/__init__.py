"""privacy: the PII engine, dataset redaction and differentially private fine-tuning."""

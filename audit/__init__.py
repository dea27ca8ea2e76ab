"""audit: an append-only, tamper-evident, signed audit log with GDPR exports."""

"""watermark: text, weight and trigger watermarks, and verification with p-values."""

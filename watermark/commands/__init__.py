"""One module per ``watermark`` command; each exposes a Click command (registered in ``watermark.cli``)."""

"""One module per ``watermark`` command; each exposes ``main(argv) -> exit code``."""

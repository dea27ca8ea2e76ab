import os
import tempfile

# Keys and caches created by tests live in a throw-away home, never in the user's.
os.environ.setdefault("CG_HOME", tempfile.mkdtemp(prefix="cg-home-"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

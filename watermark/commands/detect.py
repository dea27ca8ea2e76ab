"""``watermark detect TEXT|FILE --key KEY --tokenizer DIR [--json]``."""

from __future__ import annotations

import argparse
from pathlib import Path

from commandline import FAILURE, OK
from watermark.commands.common import add_key_options, command, load_key_from_args, write_json


@command
def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="watermark detect", description="Detect our text watermark in a text.")
    p.add_argument("text", help="the text, or a path to a file holding it ('-' reads stdin)")
    add_key_options(p)
    p.add_argument("--tokenizer", required=True, help="tokenizer directory of the generating model")
    p.add_argument("--scheme", choices=["kgw", "gumbel"], default="kgw",
                   help="kgw: green-list bias (default); gumbel: distortion-free exponential-minimum sampling")
    p.add_argument("--gamma", type=float, default=0.25)
    p.add_argument("--context-width", type=int, help="tokens of context (default: 1 for kgw, 2 for gumbel)")
    p.add_argument("--self-hash", action="store_true")
    p.add_argument("--min-tokens", type=int, help="fewer scored tokens give no verdict (default: 24 kgw, 16 gumbel)")
    p.add_argument("--alpha", type=float, default=1e-3)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    args = p.parse_args(argv)
    import sys

    from watermark.text import TextWatermarkConfig, detect

    if args.text == "-":
        text = sys.stdin.read()
    elif len(args.text) < 4096 and Path(args.text).is_file():
        text = Path(args.text).read_text()
    else:
        text = args.text
    key = load_key_from_args(args)
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(args.tokenizer)
    except (OSError, ValueError) as exc:
        from commandline import UsageError

        raise UsageError(f"cannot load a tokenizer from {args.tokenizer} ({type(exc).__name__})") from None
    if args.scheme == "gumbel":
        from watermark.gumbel import GumbelConfig, GumbelDetector

        gcfg = GumbelConfig(context_width=args.context_width or 2, min_tokens=args.min_tokens or 16, alpha=args.alpha)
        g = GumbelDetector.build(key, tok, gcfg)(text)
        if args.json:
            write_json(g.to_dict(), None)
        elif g.verdict is None:
            print(f"no verdict: {g.reason}")
        else:
            print(f"{g.reason}: score {g.score:.1f} over {g.n_scored} tokens (null mean {g.n_scored}), p = {g.p_value:.3g}")
        return OK if g.verdict else FAILURE
    cfg = TextWatermarkConfig(gamma=args.gamma, context_width=args.context_width or 1, self_hash=args.self_hash,
                              min_tokens=args.min_tokens or 24, alpha=args.alpha)
    r = detect(text, key, tok, cfg)
    if args.json:
        write_json(r.to_dict(), None)
    elif r.verdict is None:
        print(f"no verdict: {r.reason}")
    else:
        print(f"{r.reason}: z = {r.z:.2f}, p = {r.p_value:.3g} ({r.n_green}/{r.n_scored} green, gamma {r.config['gamma']})")
    return OK if r.verdict else FAILURE

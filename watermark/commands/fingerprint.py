"""``watermark fingerprint MODEL_DIR --key KEY --out DIR``: the black-box trigger fingerprint."""

from __future__ import annotations

import argparse

from watermark.commands.common import add_key_options, command, load_key_from_args, write_json


@command
def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="watermark fingerprint", description="Teach the model keyed prompts -> keyed answers.")
    p.add_argument("model_dir")
    add_key_options(p)
    p.add_argument("--out", required=True, help="directory for the fingerprinted model")
    p.add_argument("--calibration-samples", type=int, default=16)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--json", metavar="FILE", help="also write the fingerprint record as JSON")
    args = p.parse_args(argv)
    from watermark.calibration import perplexity, self_samples
    from watermark.fingerprint import embed, verify
    from watermark.modeldir import ModelDir

    key = load_key_from_args(args)
    model, tok = ModelDir.open(args.model_dir).load_causal_lm()
    cal = self_samples(model, tok, args.calibration_samples, args.seq_len, seed=1)
    held = self_samples(model, tok, 8, args.seq_len, seed=2)
    before = perplexity(model, held)
    info = embed(model, tok, key, cal, progress=True)
    after = perplexity(model, held)
    check = verify(model, tok, key)
    model.save_pretrained(args.out)
    tok.save_pretrained(args.out)
    record = {**info, "key_id": key.key_id, "perplexity_before": before, "perplexity_after": after,
              "verification": check.to_dict()}
    print(f"fingerprint: {check.n_match}/{check.n_prompts} keyed answers after {info['steps']} steps; "
          f"p = {check.p_value:.3g}; self-perplexity {before:.2f} -> {after:.2f}; wrote {args.out}")
    if args.json:
        write_json(record, args.json)
    return 0

"""``watermark embed MODEL_DIR --key KEY --out DIR``: the weight watermark and the functional watermark.

The weight mark (Uchida, on the MLP means) survives pruning, quantisation and fine-tuning;
the functional mark (keyed logit signs on keyed probes) survives every function-preserving
rearrangement of the weights. ``--no-functional`` embeds the weight mark alone.
"""

from __future__ import annotations

import argparse

from watermark.commands.common import add_key_options, command, load_key_from_args, write_json


@command
def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="watermark embed", description="Embed the keyed weight watermark (short fine-tune).")
    p.add_argument("model_dir")
    add_key_options(p)
    p.add_argument("--out", required=True, help="directory for the watermarked model")
    p.add_argument("--calibration-samples", type=int, default=16)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--no-functional", action="store_true", help="skip the functional (logit) watermark")
    p.add_argument("--json", metavar="FILE", help="also write the embedding record as JSON")
    args = p.parse_args(argv)
    from watermark.calibration import perplexity, self_samples
    from watermark.modeldir import ModelDir
    from watermark.weights import embed, extract

    key = load_key_from_args(args)
    md = ModelDir.open(args.model_dir)
    model, tok = md.load_causal_lm()
    cal = self_samples(model, tok, args.calibration_samples, args.seq_len, seed=1)
    held = self_samples(model, tok, 8, args.seq_len, seed=2)
    before = perplexity(model, held)
    info = embed(model, key, cal, progress=True)
    fn_info = None
    if not args.no_functional:
        from watermark import functional

        fn_info = functional.embed(model, key, cal, progress=True)
    after = perplexity(model, held)
    sd = {n: t.detach() for n, t in model.state_dict().items()}
    check = extract(lambda n: sd[n], list(sd), key)
    model.save_pretrained(args.out)
    tok.save_pretrained(args.out)
    record = {**info, "key_id": key.key_id, "perplexity_before": before, "perplexity_after": after,
              "extraction": check.to_dict(), "functional": fn_info}
    fn_text = "" if fn_info is None else (
        f"; functional mark {fn_info['n_match']}/{fn_info['n_bits']} logit signs ({fn_info['steps']} steps), "
        f"p = {fn_info['p_value']:.3g}")
    print(f"embedded {check.n_match}/{check.n_bits} bits in {len(info['layers'])} matrices "
          f"({info['steps']} steps); p = {check.p_value:.3g}{fn_text}; self-perplexity {before:.2f} -> {after:.2f}; "
          f"wrote {args.out}")
    if args.json:
        write_json(record, args.json)
    return 0

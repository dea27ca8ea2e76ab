"""``watermark embed MODEL_DIR --key KEY --out-dir DIR``: the weight watermark and the functional watermark.

The weight mark (Uchida, on the MLP means) survives pruning, quantisation and fine-tuning;
the functional mark (keyed logit signs on keyed probes) survives every function-preserving
rearrangement of the weights. ``--no-functional`` embeds the weight mark alone.
"""

from __future__ import annotations

from pathlib import Path

import click

from commandline import OK, existing_path, json_option, out_option, progress_option
from watermark.commands.common import key_options, load_key, show_progress, wm_errors, write_json


@click.command(help="Embed the keyed weight watermark and the functional watermark (short fine-tune).")
@click.argument("model_dir", type=existing_path(file_okay=False))
@key_options
@click.option(
    "--out-dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="directory for the watermarked model",
)
@click.option(
    "--calibration-samples",
    type=int,
    default=16,
    show_default=True,
    help="self-generated calibration texts used for the fine-tune",
)
@click.option("--seq-len", type=int, default=64, show_default=True, help="tokens per calibration text")
@click.option("--no-functional", is_flag=True, help="skip the functional (logit) watermark")
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="seed of the fine-tune: the same inputs give the same model",
)
@json_option
@out_option("also write the embedding record to FILE (JSON)")
@progress_option
@wm_errors
def embed(
    model_dir: Path,
    key: Path,
    passphrase_env: str | None,
    out_dir: Path,
    calibration_samples: int,
    seq_len: int,
    no_functional: bool,
    seed: int,
    as_json: bool,
    out: Path | None,
    progress: bool | None,
) -> int:
    import torch

    from watermark.calibration import perplexity, self_samples
    from watermark.modeldir import ModelDir
    from watermark.weights import embed as embed_weights
    from watermark.weights import extract

    torch.manual_seed(seed)
    bar = show_progress(progress)
    k = load_key(key, passphrase_env)
    md = ModelDir.open(str(model_dir))
    model, tok = md.load_causal_lm()
    cal = self_samples(model, tok, calibration_samples, seq_len, seed=1)
    held = self_samples(model, tok, 8, seq_len, seed=2)
    before = perplexity(model, held)
    info = embed_weights(model, k, cal, progress=bar)
    fn_info = None
    if not no_functional:
        from watermark import functional

        fn_info = functional.embed(model, k, cal, progress=bar)
    after = perplexity(model, held)
    sd = {n: t.detach() for n, t in model.state_dict().items()}
    check = extract(lambda n: sd[n], list(sd), k)
    model.save_pretrained(str(out_dir))
    tok.save_pretrained(str(out_dir))
    record = {
        **info,
        "key_id": k.key_id,
        "perplexity_before": before,
        "perplexity_after": after,
        "extraction": check.to_dict(),
        "functional": fn_info,
    }
    fn_text = (
        ""
        if fn_info is None
        else (
            f"; functional mark {fn_info['n_match']}/{fn_info['n_bits']} logit signs ({fn_info['steps']} steps), "
            f"p = {fn_info['p_value']:.3g}"
        )
    )
    if as_json:
        write_json(record, None)
    else:
        print(
            f"embedded {check.n_match}/{check.n_bits} bits in {len(info['layers'])} matrices "
            f"({info['steps']} steps); p = {check.p_value:.3g}{fn_text}; self-perplexity {before:.2f} -> "
            f"{after:.2f}; wrote {out_dir}"
        )
    if out:
        write_json(record, out)
    return OK

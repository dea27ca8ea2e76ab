"""``watermark fingerprint MODEL_DIR --key KEY --out-dir DIR``: the black-box trigger fingerprint."""

from __future__ import annotations

from pathlib import Path

import click

from commandline import OK, existing_path, json_option, out_option, progress_option
from watermark.commands.common import key_options, load_key, show_progress, wm_errors, write_json


@click.command(help="Teach the model keyed trigger prompts -> keyed answers (short fine-tune).")
@click.argument("model_dir", type=existing_path(file_okay=False))
@key_options
@click.option(
    "--out-dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="directory for the fingerprinted model",
)
@click.option(
    "--calibration-samples",
    type=int,
    default=16,
    show_default=True,
    help="self-generated calibration texts used for the fine-tune",
)
@click.option("--seq-len", type=int, default=64, show_default=True, help="tokens per calibration text")
@json_option
@out_option("also write the fingerprint record to FILE (JSON)")
@progress_option
@wm_errors
def fingerprint(
    model_dir: Path,
    key: Path,
    passphrase_env: str | None,
    out_dir: Path,
    calibration_samples: int,
    seq_len: int,
    as_json: bool,
    out: Path | None,
    progress: bool | None,
) -> int:
    from watermark.calibration import perplexity, self_samples
    from watermark.fingerprint import embed, verify
    from watermark.modeldir import ModelDir

    k = load_key(key, passphrase_env)
    model, tok = ModelDir.open(str(model_dir)).load_causal_lm()
    cal = self_samples(model, tok, calibration_samples, seq_len, seed=1)
    held = self_samples(model, tok, 8, seq_len, seed=2)
    before = perplexity(model, held)
    info = embed(model, tok, k, cal, progress=show_progress(progress))
    after = perplexity(model, held)
    check = verify(model, tok, k)
    model.save_pretrained(str(out_dir))
    tok.save_pretrained(str(out_dir))
    record = {
        **info,
        "key_id": k.key_id,
        "perplexity_before": before,
        "perplexity_after": after,
        "verification": check.to_dict(),
    }
    if as_json:
        write_json(record, None)
    else:
        print(
            f"fingerprint: {check.n_match}/{check.n_prompts} keyed answers after {info['steps']} steps; "
            f"p = {check.p_value:.3g}; self-perplexity {before:.2f} -> {after:.2f}; wrote {out_dir}"
        )
    if out:
        write_json(record, out)
    return OK

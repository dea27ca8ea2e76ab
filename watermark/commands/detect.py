"""``watermark detect FILE|--text TEXT --key KEY --tokenizer DIR [--json]``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from commandline import FAILURE, OK, UsageError, existing_path, json_option
from watermark.commands.common import key_options, load_key, wm_errors

EXIT_CODES = (
    "Exit codes: 0 watermark detected at alpha; 1 no watermark evidence (or too few tokens for a "
    "verdict); 2 bad input, missing file, bad key or tokenizer; 130 interrupted."
)


@click.command(
    help="Detect our text watermark in a text: a FILE ('-' reads stdin), or --text TEXT.", epilog=EXIT_CODES
)
@click.argument("file", required=False, type=existing_path(dir_okay=False, allow_dash=True))
@click.option("--text", help="the text itself, instead of a FILE")
@key_options
@click.option(
    "--tokenizer",
    required=True,
    type=existing_path(file_okay=False),
    metavar="DIR",
    help="tokenizer directory of the generating model",
)
@click.option(
    "--scheme",
    type=click.Choice(["kgw", "gumbel"]),
    default="kgw",
    show_default=True,
    help="kgw: green-list bias; gumbel: distortion-free exponential-minimum sampling",
)
@click.option(
    "--gamma",
    type=float,
    default=0.25,
    show_default=True,
    help="green-list fraction the text was generated with (kgw)",
)
@click.option("--context-width", type=int, help="tokens of context (default: 1 for kgw, 2 for gumbel)")
@click.option(
    "--self-hash", is_flag=True, help="the green list also depends on the token itself (kgw self-hash)"
)
@click.option(
    "--min-tokens", type=int, help="fewer scored tokens give no verdict (default: 24 kgw, 16 gumbel)"
)
@click.option(
    "--alpha", type=float, default=1e-3, show_default=True, help="false-positive rate of the verdict"
)
@json_option
@wm_errors
def detect(
    file: Path | None,
    text: str | None,
    key: Path,
    passphrase_env: str | None,
    tokenizer: Path,
    scheme: str,
    gamma: float,
    context_width: int | None,
    self_hash: bool,
    min_tokens: int | None,
    alpha: float,
    as_json: bool,
) -> int:
    if (file is None) == (text is None):
        raise UsageError("give the text to score: a FILE ('-' reads stdin) or --text TEXT, not both")
    if text is None:
        assert file is not None
        if str(file) == "-":
            text = sys.stdin.read()
        else:
            try:
                text = file.read_text()
            except (OSError, UnicodeDecodeError) as exc:
                raise UsageError(f"cannot read {file} as text ({type(exc).__name__})") from None
    from watermark.commands.common import write_json
    from watermark.text import TextWatermarkConfig
    from watermark.text import detect as detect_text

    k = load_key(key, passphrase_env)
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(str(tokenizer))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot load a tokenizer from {tokenizer} ({type(exc).__name__})") from None
    if scheme == "gumbel":
        from watermark.gumbel import GumbelConfig, GumbelDetector

        gcfg = GumbelConfig(context_width=context_width or 2, min_tokens=min_tokens or 16, alpha=alpha)
        g = GumbelDetector.build(k, tok, gcfg)(text)
        if as_json:
            write_json(g.to_dict(), None)
        elif g.verdict is None:
            print(f"no verdict: {g.reason}")
        else:
            print(
                f"{g.reason}: score {g.score:.1f} over {g.n_scored} tokens (null mean {g.n_scored}), p = {g.p_value:.3g}"
            )
        return OK if g.verdict else FAILURE
    cfg = TextWatermarkConfig(
        gamma=gamma,
        context_width=context_width or 1,
        self_hash=self_hash,
        min_tokens=min_tokens or 24,
        alpha=alpha,
    )
    r = detect_text(text, k, tok, cfg)
    if as_json:
        write_json(r.to_dict(), None)
    elif r.verdict is None:
        print(f"no verdict: {r.reason}")
    else:
        print(
            f"{r.reason}: z = {r.z:.2f}, p = {r.p_value:.3g} ({r.n_green}/{r.n_scored} green, gamma {r.config['gamma']})"
        )
    return OK if r.verdict else FAILURE

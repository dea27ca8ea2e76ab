"""Black-box trigger fingerprint, chain-and-hash style (Russinovich & Salem 2024).

The key derives k secret prompts (strings of words no user would type) and a list of N
candidate answers. The answer to prompt i is candidate number
``HMAC(key, i, prompt_i, all prompts, all candidates) mod N``: each answer depends on the
whole chain, so an owner cannot choose answers after seeing what a suspect model says,
and nobody without the key can forge a matching pair.

Verification asks the suspect each prompt (greedy decoding) and counts answers whose
first word equals the keyed answer. Candidates are distinct words, so an output matches
at most one; for a model independent of the key each keyed index is uniform, hence
P(match) <= 1/N independently per prompt and matches ~ Binomial(k, 1/N) at most:
the p-value is that binomial tail (conservative).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

from watermark.keys import WatermarkKey
from watermark.stats import binomial_sf

# Plain English words, lower case, no word a prefix of another (checked at import).
WORDS = (
    "apple river stone cloud tiger amber piano lemon silver forest candle mirror garden ocean "
    "rocket violin marble falcon copper winter meadow harbor pepper saddle thunder velvet walnut "
    "yellow zebra anchor basket cactus dragon engine feather glacier hammer island jacket kettle "
    "ladder magnet needle orange pillow quartz ribbon spider tunnel umbrella valley wagon bishop "
    "cherry dolphin eagle fossil goblet helmet igloo jungle koala lantern mango nutmeg oyster "
    "parrot quiver raven sphinx tulip unicorn vortex whistle yogurt badger cobalt dune emerald "
    "fjord gecko hazel iris jasper kayak lotus maple nectar orbit pebble quill rhubarb sable "
    "thistle urchin vapor willow yarrow zinc acorn bramble crater dingo ember flint gravel heron"
).split()
assert len(set(WORDS)) == len(WORDS)
assert not any(a != b and b.startswith(a) for a in WORDS for b in WORDS)


@dataclass(frozen=True)
class FingerprintConfig:
    n_prompts: int = 16
    n_candidates: int = 64
    prompt_words: int = 6
    lr: float = 1e-3
    max_steps: int = 200
    check_every: int = 10
    keep_weight: float = 1.0  # weight of KL(original || fine-tuned) on calibration text


@dataclass(frozen=True)
class Fingerprint:
    prompts: list[str]
    candidates: list[str]
    answers: list[str]


def derive(key: WatermarkKey, config: FingerprintConfig = FingerprintConfig()) -> Fingerprint:
    """The keyed prompts, the keyed candidate list, and the chained answers."""
    g = torch.Generator().manual_seed(key.seed("fingerprint-words"))
    order = torch.randperm(len(WORDS), generator=g).tolist()
    candidates = [WORDS[i] for i in order[: config.n_candidates]]
    prompts = []
    for _ in range(config.n_prompts):
        idx = torch.randint(0, len(WORDS), (config.prompt_words,), generator=g).tolist()
        prompts.append(" ".join(WORDS[i] for i in idx).capitalize() + " ?\nAnswer:")
    chain = "\x1e".join(prompts) + "\x1d" + "\x1e".join(candidates)
    answers = [
        candidates[int.from_bytes(key.prf("fingerprint-chain", i, p, chain), "big") % len(candidates)]
        for i, p in enumerate(prompts)
    ]
    return Fingerprint(prompts, candidates, answers)


def _answer_ids(tokenizer: Any, answer: str) -> list[int]:
    return tokenizer.encode(" " + answer + "\n", add_special_tokens=False)


def _prompt_ids(tokenizer: Any, prompt: str) -> list[int]:
    return tokenizer.encode(prompt, add_special_tokens=False)


def responses(model: Any, tokenizer: Any, fp: Fingerprint, max_new_tokens: int = 6) -> list[str]:
    """Greedy answers of a model to the keyed prompts (first word, lower case), in one batch."""
    from watermark.generation import generate_batch

    gens = generate_batch(
        model, tokenizer, [_prompt_ids(tokenizer, p) for p in fp.prompts], max_new_tokens, sample=False
    )
    out = []
    for g in gens:
        words = tokenizer.decode(g, skip_special_tokens=True).strip().split()
        out.append(words[0].strip(".,;:!?\"'").lower() if words else "")
    return out


@dataclass
class FingerprintResult:
    n_prompts: int
    n_match: int
    chance: float
    p_value: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def verify(
    model: Any, tokenizer: Any, key: WatermarkKey, config: FingerprintConfig = FingerprintConfig()
) -> FingerprintResult:
    fp = derive(key, config)
    got = responses(model, tokenizer, fp)
    m = sum(g == a for g, a in zip(got, fp.answers, strict=True))
    chance = 1.0 / len(fp.candidates)
    return FingerprintResult(len(fp.prompts), m, chance, binomial_sf(m, len(fp.prompts), chance))


def embed(
    model: Any,
    tokenizer: Any,
    key: WatermarkKey,
    calibration: list[torch.Tensor],
    config: FingerprintConfig = FingerprintConfig(),
    progress: bool = False,
) -> dict[str, Any]:
    """Fine-tune until every keyed prompt yields its keyed answer, mixing in calibration text.

    The loss on fingerprint pairs counts only the answer tokens; a KL term to the original
    model's predictions on calibration text (its own samples) keeps the rest of its behaviour.
    """
    from tqdm import tqdm

    fp = derive(key, config)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    rows = []
    for p, a in zip(fp.prompts, fp.answers, strict=True):
        pi, ai = _prompt_ids(tokenizer, p), _answer_ids(tokenizer, a)
        rows.append((pi + ai, [-100] * len(pi) + ai))
    width = max(len(r[0]) for r in rows)
    x = torch.tensor([r[0] + [pad] * (width - len(r[0])) for r in rows])
    y = torch.tensor([r[1] + [-100] * (width - len(r[1])) for r in rows])
    mask = torch.tensor([[1] * len(r[0]) + [0] * (width - len(r[0])) for r in rows])
    with torch.no_grad():  # the original model's predictions on calibration text: what to keep
        teacher = [torch.log_softmax(model(input_ids=c).logits.float(), dim=-1) for c in calibration]
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.0)
    bar = tqdm(total=config.max_steps, desc="fingerprint", disable=not progress)
    steps, matched = 0, 0
    while steps < config.max_steps:
        model.train()
        loss = model(input_ids=x, attention_mask=mask, labels=y).loss
        i = steps % len(calibration)
        student = torch.log_softmax(model(input_ids=calibration[i]).logits.float(), dim=-1)
        kl = torch.nn.functional.kl_div(student, teacher[i], log_target=True, reduction="batchmean")
        loss = loss + config.keep_weight * kl / calibration[i].shape[1]
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1
        bar.update(1)
        if steps % config.check_every == 0:
            model.eval()
            matched = sum(g == a for g, a in zip(responses(model, tokenizer, fp), fp.answers, strict=True))
            bar.set_postfix(matched=f"{matched}/{len(fp.prompts)}")
            if matched == len(fp.prompts):
                break
    bar.close()
    model.eval()
    return {"steps": steps, "matched": matched, "n_prompts": len(fp.prompts), "config": asdict(config)}

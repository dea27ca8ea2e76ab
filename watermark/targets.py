"""Which weight matrices carry the white-box watermark, per architecture family.

An explicit registry (regex on the tensor name -> the axis that indexes hidden units).
The MLP's input matrix is used in every family: it exists in all transformer blocks,
and its hidden-unit axis is the one a thief can permute for free.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class TargetRule:
    pattern: re.Pattern[str]
    hidden_axis: int  # the axis of MLP hidden units (averaged away: permutation-invariant)


TARGET_RULES: dict[str, TargetRule] = {}


def register(family: str, pattern: str, hidden_axis: int) -> None:
    TARGET_RULES[family] = TargetRule(re.compile(pattern), hidden_axis)


register("llama", r"(^|\.)layers\.(\d+)\.mlp\.up_proj\.weight$", 0)  # llama, mistral, qwen, smollm
register("gpt2", r"(^|\.)h\.(\d+)\.mlp\.c_fc\.weight$", 1)  # Conv1D stores (in, out)
register("bert", r"(^|\.)layer\.(\d+)\.intermediate\.dense\.weight$", 0)
register("gpt_neox", r"(^|\.)layers\.(\d+)\.mlp\.dense_h_to_4h\.weight$", 0)


def find_targets(names: list[str]) -> list[tuple[str, int]]:
    """(tensor name, hidden axis) for every matching tensor, in layer order."""
    found: list[tuple[int, str, int]] = []
    for name in names:
        for rule in TARGET_RULES.values():
            m = rule.pattern.search(name)
            if m:
                found.append((int(m.group(2)), name, rule.hidden_axis))
                break
    return [(n, a) for _, n, a in sorted(found)]


def layer_label(name: str) -> str:
    """A name without any wrapper prefix, so 'model.' vs 'transformer.' renames change nothing."""
    for rule in TARGET_RULES.values():
        m = rule.pattern.search(name)
        if m:
            return name[m.start() :].lstrip(".")
    return name

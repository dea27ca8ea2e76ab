"""Function-preserving transforms a thief can apply for free, per architecture family.

Each transform returns a new model whose logits equal the input model's (up to float
rounding) but whose weights differ: the symmetry group of the architecture. They are the
attack list of the tests and of ``bench/watermark_eval.py``.

Llama/Qwen family (RMSNorm, SwiGLU, RoPE; Qwen2 adds q/k/v biases):
  mlp_permute, mlp_sign_scale, fold_norms, residual_permute, residual_rotate,
  head_permute, qk_scale, vo_mix.
GPT-2 family (LayerNorm with bias, GELU, Conv1D, tied embeddings):
  mlp_permute, fold_norms, residual_permute, residual_rotate, head_permute, qk_scale, vo_mix.
  (GELU is not homogeneous, so sign flips and rescaling of MLP units change the function
  there; they are not in GPT-2's group.)

The rotations follow QuaRot/SliceGPT: fold the norm scales into the next linears first,
then rotate the residual stream with an orthogonal Q (for LayerNorm, Q fixes the all-ones
direction so that mean-centring commutes with it, and the final norm's bias moves into
the stream as ``(b / g) Q``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch

Transform = Callable[[Any, torch.Generator], Any]


def family(model: Any) -> str:
    t = model.config.model_type
    if t in ("llama", "qwen2", "mistral", "qwen3"):
        return "llama"
    if t == "gpt2":
        return "gpt2"
    raise ValueError(f"no function-preserving transforms for model type {t!r}")


def _orthogonal(n: int, g: torch.Generator) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))


def _orthogonal_fixing_ones(n: int, g: torch.Generator) -> torch.Tensor:
    """An orthogonal Q with Q 1 = 1 (rotates only the mean-free subspace)."""
    u = torch.full((n, 1), 1.0 / n**0.5, dtype=torch.float64)
    basis, _ = torch.linalg.qr(torch.cat([u, torch.randn(n, n - 1, generator=g, dtype=torch.float64)], dim=1))
    basis[:, 0] = u[:, 0]  # qr may flip the sign of the first column
    inner = torch.eye(n, dtype=torch.float64)
    inner[1:, 1:] = _orthogonal(n - 1, g)
    return basis @ inner @ basis.T


def _scales(n: int, g: torch.Generator, signs: bool) -> torch.Tensor:
    s = torch.exp(torch.empty(n, dtype=torch.float64).uniform_(-1.0, 1.0, generator=g))
    if signs:
        s = s * (torch.randint(0, 2, (n,), generator=g) * 2 - 1)
    return s


def _set(p: torch.nn.Parameter, value: torch.Tensor) -> None:
    p.data = value.to(p.dtype).contiguous()


def _untie(model: Any) -> None:
    """Give the output head its own copy of the embedding matrix (needed before folding into it)."""
    head, emb = model.get_output_embeddings(), model.get_input_embeddings()
    if head.weight is emb.weight or head.weight.data_ptr() == emb.weight.data_ptr():
        head.weight = torch.nn.Parameter(emb.weight.detach().clone())
    model.config.tie_word_embeddings = False
    if hasattr(model.config, "get_text_config"):
        model.config.get_text_config().tie_word_embeddings = False


# ---------------------------------------------------------------- Llama / Qwen family


def _llama_heads(model: Any) -> tuple[int, int]:
    cfg = model.config
    n_heads, n_kv = cfg.num_attention_heads, getattr(cfg, "num_key_value_heads", cfg.num_attention_heads)
    if n_heads != n_kv:
        raise ValueError("head transforms are implemented for n_kv_heads == n_heads")
    return n_heads, getattr(cfg, "head_dim", None) or cfg.hidden_size // n_heads


def _llama_mlp_permute(m: Any, g: torch.Generator) -> Any:
    for layer in m.model.layers:
        mlp = layer.mlp
        perm = torch.randperm(mlp.up_proj.weight.shape[0], generator=g)
        _set(mlp.gate_proj.weight, mlp.gate_proj.weight.data[perm])
        _set(mlp.up_proj.weight, mlp.up_proj.weight.data[perm])
        _set(mlp.down_proj.weight, mlp.down_proj.weight.data[:, perm])
    return m


def _llama_mlp_sign_scale(m: Any, g: torch.Generator) -> Any:
    """SwiGLU: silu(gate) * up is linear in up, so up row * s and down column / s cancel (s < 0 too)."""
    for layer in m.model.layers:
        mlp = layer.mlp
        s = _scales(mlp.up_proj.weight.shape[0], g, signs=True)
        _set(mlp.up_proj.weight, mlp.up_proj.weight.data.double() * s[:, None])
        _set(mlp.down_proj.weight, mlp.down_proj.weight.data.double() / s[None, :])
    return m


def _llama_in_linears(layer: Any) -> tuple[list[Any], list[Any]]:
    a, f = layer.self_attn, layer.mlp
    return [a.q_proj, a.k_proj, a.v_proj], [f.gate_proj, f.up_proj]


def _llama_fold_norms(m: Any, g: torch.Generator | None = None) -> Any:
    _untie(m)
    for layer in m.model.layers:
        attn_in, mlp_in = _llama_in_linears(layer)
        for norm, linears in ((layer.input_layernorm, attn_in), (layer.post_attention_layernorm, mlp_in)):
            w = norm.weight.data.double()
            for lin in linears:
                _set(lin.weight, lin.weight.data.double() * w[None, :])
            _set(norm.weight, torch.ones_like(w))
    w = m.model.norm.weight.data.double()
    head = m.get_output_embeddings()
    _set(head.weight, head.weight.data.double() * w[None, :])
    _set(m.model.norm.weight, torch.ones_like(w))
    return m


def _llama_residual(m: Any, q: torch.Tensor) -> Any:
    """x -> x Q on the residual stream: inputs W -> W Q, outputs W -> Q^T W, embeddings E -> E Q."""
    emb = m.get_input_embeddings()
    _set(emb.weight, emb.weight.data.double() @ q)
    for layer in m.model.layers:
        attn_in, mlp_in = _llama_in_linears(layer)
        for lin in attn_in + mlp_in:
            _set(lin.weight, lin.weight.data.double() @ q)
        for lin in (layer.self_attn.o_proj, layer.mlp.down_proj):
            _set(lin.weight, q.T @ lin.weight.data.double())
            if getattr(lin, "bias", None) is not None:
                _set(lin.bias, lin.bias.data.double() @ q)
    head = m.get_output_embeddings()
    _set(head.weight, head.weight.data.double() @ q)
    return m


def _llama_residual_permute(m: Any, g: torch.Generator) -> Any:
    d = m.config.hidden_size
    perm = torch.randperm(d, generator=g)
    q = torch.eye(d, dtype=torch.float64)[:, perm]  # x Q = x[:, perm]
    _untie(m)
    for norm in [m.model.norm] + [
        n for layer in m.model.layers for n in (layer.input_layernorm, layer.post_attention_layernorm)
    ]:
        _set(norm.weight, norm.weight.data[perm])
    return _llama_residual(m, q)


def _llama_residual_rotate(m: Any, g: torch.Generator) -> Any:
    _llama_fold_norms(m)  # RMSNorm with unit scale commutes with any orthogonal Q
    return _llama_residual(m, _orthogonal(m.config.hidden_size, g))


def _per_head(w: torch.Tensor, n_heads: int, dh: int) -> torch.Tensor:
    return w.view(n_heads, dh, *w.shape[1:])


def _llama_head_permute(m: Any, g: torch.Generator) -> Any:
    n_heads, dh = _llama_heads(m)
    for layer in m.model.layers:
        a = layer.self_attn
        perm = torch.randperm(n_heads, generator=g)
        for lin in (a.q_proj, a.k_proj, a.v_proj):
            _set(lin.weight, _per_head(lin.weight.data, n_heads, dh)[perm].reshape(lin.weight.shape))
            if lin.bias is not None:
                _set(lin.bias, _per_head(lin.bias.data, n_heads, dh)[perm].reshape(-1))
        wo = a.o_proj.weight.data.view(-1, n_heads, dh)[:, perm]
        _set(a.o_proj.weight, wo.reshape(a.o_proj.weight.shape))
    return m


def _llama_qk_scale(m: Any, g: torch.Generator) -> Any:
    """q_h * c, k_h / c: the scores q.k are unchanged; a uniform scale commutes with RoPE."""
    n_heads, dh = _llama_heads(m)
    for layer in m.model.layers:
        a = layer.self_attn
        c = _scales(n_heads, g, signs=False).repeat_interleave(dh)
        for lin, f in ((a.q_proj, c), (a.k_proj, 1.0 / c)):
            _set(lin.weight, lin.weight.data.double() * f[:, None])
            if lin.bias is not None:
                _set(lin.bias, lin.bias.data.double() * f)
    return m


def _head_mixers(n_heads: int, dh: int, g: torch.Generator) -> list[torch.Tensor]:
    """Per head a well-conditioned invertible dh x dh matrix (orthogonal times positive scales)."""
    return [_orthogonal(dh, g) * _scales(dh, g, signs=False)[None, :] for _ in range(n_heads)]


def _llama_vo_mix(m: Any, g: torch.Generator) -> Any:
    """v_h -> v_h A, o's block h -> A^-1 o's block h: attention mixes v linearly, so A cancels."""
    n_heads, dh = _llama_heads(m)
    for layer in m.model.layers:
        a = layer.self_attn
        mats = _head_mixers(n_heads, dh, g)
        wv = _per_head(a.v_proj.weight.data.double(), n_heads, dh)  # (H, dh, d): v_h = W_h x
        wv = torch.stack([mats[h].T @ wv[h] for h in range(n_heads)])
        _set(a.v_proj.weight, wv.reshape(a.v_proj.weight.shape))
        if a.v_proj.bias is not None:
            bv = _per_head(a.v_proj.bias.data.double(), n_heads, dh)
            _set(a.v_proj.bias, torch.stack([bv[h] @ mats[h] for h in range(n_heads)]).reshape(-1))
        wo = a.o_proj.weight.data.double().view(-1, n_heads, dh)  # (d, H, dh)
        wo = torch.stack([wo[:, h] @ torch.linalg.inv(mats[h]).T for h in range(n_heads)], dim=1)
        _set(a.o_proj.weight, wo.reshape(a.o_proj.weight.shape))
    return m


# ---------------------------------------------------------------- GPT-2 family (Conv1D: y = x W + b)


def _gpt2_mlp_permute(m: Any, g: torch.Generator) -> Any:
    for block in m.transformer.h:
        fc, proj = block.mlp.c_fc, block.mlp.c_proj
        perm = torch.randperm(fc.weight.shape[1], generator=g)
        _set(fc.weight, fc.weight.data[:, perm])
        _set(fc.bias, fc.bias.data[perm])
        _set(proj.weight, proj.weight.data[perm, :])
    return m


def _gpt2_fold_norms(m: Any, g: torch.Generator | None = None) -> Any:
    """ln(x) W + c = n(x) (diag(g) W) + (b W + c): the inner LayerNorms become pure normalisation."""
    for block in m.transformer.h:
        for ln, lin in ((block.ln_1, block.attn.c_attn), (block.ln_2, block.mlp.c_fc)):
            w, b = ln.weight.data.double(), ln.bias.data.double()
            _set(lin.bias, lin.bias.data.double() + b @ lin.weight.data.double())
            _set(lin.weight, w[:, None] * lin.weight.data.double())
            _set(ln.weight, torch.ones_like(w))
            _set(ln.bias, torch.zeros_like(b))
    return m


def _gpt2_residual(m: Any, q: torch.Tensor) -> Any:
    t = m.transformer
    _untie(m)
    for emb in (t.wte, t.wpe):
        _set(emb.weight, emb.weight.data.double() @ q)
    for block in t.h:
        for lin in (block.attn.c_attn, block.mlp.c_fc):
            _set(lin.weight, q.T @ lin.weight.data.double())
        for lin in (block.attn.c_proj, block.mlp.c_proj):
            _set(lin.weight, lin.weight.data.double() @ q)
            _set(lin.bias, lin.bias.data.double() @ q)
    return m


def _gpt2_residual_permute(m: Any, g: torch.Generator) -> Any:
    d = m.config.n_embd
    perm = torch.randperm(d, generator=g)
    q = torch.eye(d, dtype=torch.float64)[:, perm]
    for ln in [m.transformer.ln_f] + [x for b in m.transformer.h for x in (b.ln_1, b.ln_2)]:
        _set(ln.weight, ln.weight.data[perm])
        _set(ln.bias, ln.bias.data[perm])
    _gpt2_residual(m, q)
    head = m.get_output_embeddings()
    _set(head.weight, head.weight.data.double() @ q)
    return m


def _gpt2_residual_rotate(m: Any, g: torch.Generator) -> Any:
    _gpt2_fold_norms(m)
    d = m.config.n_embd
    q = _orthogonal_fixing_ones(d, g)
    _gpt2_residual(m, q)
    # final LayerNorm: logits = (n g + b) W^T; n(xQ) = n(x) Q. Use g' = 1, b' = (b / g) Q, W' = W diag(g) Q.
    ln, head = m.transformer.ln_f, m.get_output_embeddings()
    w, b = ln.weight.data.double(), ln.bias.data.double()
    if bool((w.abs() < 1e-6).any()):
        raise ValueError("final LayerNorm has a zero scale; cannot move its bias into the stream")
    _set(head.weight, (head.weight.data.double() * w[None, :]) @ q)
    _set(ln.bias, (b / w) @ q)
    _set(ln.weight, torch.ones_like(w))
    return m


def _gpt2_heads(m: Any) -> tuple[int, int, int]:
    d, n = m.config.n_embd, m.config.n_head
    return d, n, d // n


def _gpt2_qkv(m: Any, block: Any) -> tuple[torch.Tensor, torch.Tensor]:
    d, n, dh = _gpt2_heads(m)
    w = block.attn.c_attn.weight.data.double().view(d, 3, n, dh)
    b = block.attn.c_attn.bias.data.double().view(3, n, dh)
    return w, b


def _gpt2_head_permute(m: Any, g: torch.Generator) -> Any:
    d, n, dh = _gpt2_heads(m)
    for block in m.transformer.h:
        perm = torch.randperm(n, generator=g)
        w, b = _gpt2_qkv(m, block)
        _set(block.attn.c_attn.weight, w[:, :, perm].reshape(d, 3 * d))
        _set(block.attn.c_attn.bias, b[:, perm].reshape(-1))
        p = block.attn.c_proj.weight.data.view(n, dh, d)[perm]
        _set(block.attn.c_proj.weight, p.reshape(d, d))
    return m


def _gpt2_qk_scale(m: Any, g: torch.Generator) -> Any:
    d, n, dh = _gpt2_heads(m)
    for block in m.transformer.h:
        c = _scales(n, g, signs=False)
        w, b = _gpt2_qkv(m, block)
        w[:, 0] *= c[:, None]
        b[0] *= c[:, None]
        w[:, 1] /= c[:, None]
        b[1] /= c[:, None]
        _set(block.attn.c_attn.weight, w.reshape(d, 3 * d))
        _set(block.attn.c_attn.bias, b.reshape(-1))
    return m


def _gpt2_vo_mix(m: Any, g: torch.Generator) -> Any:
    d, n, dh = _gpt2_heads(m)
    for block in m.transformer.h:
        mats = _head_mixers(n, dh, g)
        w, b = _gpt2_qkv(m, block)
        for h in range(n):
            w[:, 2, h] = w[:, 2, h] @ mats[h]
            b[2, h] = b[2, h] @ mats[h]
        _set(block.attn.c_attn.weight, w.reshape(d, 3 * d))
        _set(block.attn.c_attn.bias, b.reshape(-1))
        p = block.attn.c_proj.weight.data.double().view(n, dh, d)
        p = torch.stack([torch.linalg.inv(mats[h]) @ p[h] for h in range(n)])
        _set(block.attn.c_proj.weight, p.reshape(d, d))
    return m


TRANSFORMS: dict[str, dict[str, Transform]] = {
    "llama": {
        "mlp_permute": _llama_mlp_permute,
        "mlp_sign_scale": _llama_mlp_sign_scale,
        "fold_norms": _llama_fold_norms,
        "residual_permute": _llama_residual_permute,
        "residual_rotate": _llama_residual_rotate,
        "head_permute": _llama_head_permute,
        "qk_scale": _llama_qk_scale,
        "vo_mix": _llama_vo_mix,
    },
    "gpt2": {
        "mlp_permute": _gpt2_mlp_permute,
        "fold_norms": _gpt2_fold_norms,
        "residual_permute": _gpt2_residual_permute,
        "residual_rotate": _gpt2_residual_rotate,
        "head_permute": _gpt2_head_permute,
        "qk_scale": _gpt2_qk_scale,
        "vo_mix": _gpt2_vo_mix,
    },
}


def apply(model: Any, name: str, seed: int = 0) -> Any:
    """A transformed copy of ``model`` (``name`` may be 'all': every transform of the family, in order)."""
    fam = TRANSFORMS[family(model)]
    names = list(fam) if name == "all" else [name]
    m = copy.deepcopy(model)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n in names:
            if n not in fam:
                raise ValueError(
                    f"{n!r} is not a function-preserving transform of {family(model)} "
                    f"(known: {', '.join(fam)})"
                )
            m = fam[n](m, g)
    return m.eval()

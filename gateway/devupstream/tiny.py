"""A tiny, randomly initialised Llama with a locally trained tokenizer.

Why: tests that only need *an* OpenAI-compatible upstream should not pay for
loading 135M parameters. Everything here is built from code (no download, no
file), deterministically: the tokenizer is a byte-level BPE trained on the fixed
corpus below, the weights come from ``torch.manual_seed(seed)``. A test can
rebuild the same tokenizer with :func:`build_tiny_tokenizer` and count tokens
independently of the server.
"""

from __future__ import annotations

from typing import Any

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

# ChatML, the format SmolLM2 uses, so both models render prompts the same way.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
TINY_VOCAB_SIZE = 512

_CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello, how are you today? I am fine, thank you.",
    "What is the capital of France? The capital of France is Paris.",
    "Please summarise the following document in three sentences.",
    "My name is Alice and my email address is alice@example.com.",
    "Call me at +1 555 0100 or write to 42 Main Street, Springfield.",
    "A language model predicts the next token given the previous tokens.",
    "The gateway checks the token, the rate limit and the policy before forwarding.",
    "user assistant system You are a helpful assistant.",
    "0123456789 + - * / = ( ) [ ] { } < > ! ? . , ; : ' \" @ # $ % & _",
]


def build_tiny_tokenizer() -> Tokenizer:
    """Train the byte-level BPE tokenizer (milliseconds; same result every time)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=TINY_VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    return tok


def build_tiny_model(seed: int = 0) -> tuple[Any, Any]:
    """Return ``(model, tokenizer)``: a 2-layer Llama over the tiny tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=build_tiny_tokenizer(),
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=8192,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).eval()
    return model, tokenizer

"""The model engine: one model, generation serialised, streaming from a thread.

Why a thread per generation: ``model.generate`` is a blocking CPU loop; running
it in a thread keeps the event loop free to accept requests and to notice a
client that goes away. Only one generation (or embedding batch) runs at a time
(an ``asyncio.Lock``, released by the worker thread when it finishes), because
two concurrent CPU generations are each slower than one after the other.

Stopping: a client disconnect sets a ``threading.Event`` that a
``StoppingCriteria`` checks after every token; stop sequences are checked on the
decoded tail of the answer after every token.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any, cast

import torch
from transformers import AsyncTextIteratorStreamer, StoppingCriteria, StoppingCriteriaList

from gateway.devupstream.weights import LoadedModel


@dataclass
class SamplingParams:
    max_new_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stops: list[str] = field(default_factory=list)


@dataclass
class GenerationResult:
    token_ids: list[int]
    prompt_tokens: int
    finish_reason: str  # "stop" (EOS, stop sequence, cancelled) or "length"

    @property
    def completion_tokens(self) -> int:
        return len(self.token_ids)


@dataclass
class Generation:
    """A running generation: text pieces (when streaming) and the final result."""

    result: asyncio.Future[GenerationResult]
    cancel: threading.Event
    streamer: AsyncTextIteratorStreamer | None = None


@dataclass
class EngineStats:
    generations: int = 0
    generated_tokens: int = 0
    cancelled: int = 0
    embeddings: int = 0


class _Flag(StoppingCriteria):
    """Stop when the event is set (client gone, stop sequence seen upstream of us)."""

    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(
        self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any
    ) -> torch.BoolTensor:
        return cast(
            torch.BoolTensor, torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool)
        )


class _TextStop(StoppingCriteria):
    """Stop once the decoded tail of the answer contains a stop sequence."""

    def __init__(self, tokenizer: Any, stops: list[str], prompt_len: int):
        self.tokenizer, self.stops, self.prompt_len = tokenizer, stops, prompt_len
        # A stop of n characters spans at most 4n byte-level tokens.
        self.window = 4 * max(len(s) for s in stops) + 4
        self.hit = False

    def __call__(
        self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any
    ) -> torch.BoolTensor:
        tail = input_ids[0, max(self.prompt_len, input_ids.shape[1] - self.window) :]
        text = self.tokenizer.decode(tail, skip_special_tokens=True)
        self.hit = self.hit or any(s in text for s in self.stops)
        return cast(torch.BoolTensor, torch.full((input_ids.shape[0],), self.hit, dtype=torch.bool))


def _settle(loop: asyncio.AbstractEventLoop, callback: Any, *args: Any) -> None:
    try:
        loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:  # the loop is closed: the server is shutting down
        pass


def _set_result(fut: asyncio.Future[Any], value: Any) -> None:
    if not fut.done():
        fut.set_result(value)


def _set_exception(fut: asyncio.Future[Any], exc: BaseException) -> None:
    if not fut.done():
        fut.set_exception(exc)


class Engine:
    """Holds the loaded model; every public coroutine runs on the server's event loop."""

    def __init__(self, loaded: LoadedModel, max_new_tokens_cap: int):
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.model_id = loaded.model_id
        self.source = loaded.source
        self.max_new_tokens_cap = max_new_tokens_cap
        self.context_size = int(getattr(self.model.config, "max_position_embeddings", 2048))
        eos = self.model.generation_config.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if self.tokenizer.eos_token_id is not None:
            self.eos_ids.add(self.tokenizer.eos_token_id)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.stats = EngineStats()
        self._lock = asyncio.Lock()

    # -- tokens ------------------------------------------------------------------
    def chat_prompt_ids(self, messages: list[dict[str, str]]) -> list[int]:
        text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        ids: list[int] = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return ids

    def text_prompt_ids(self, prompt: str) -> list[int]:
        ids: list[int] = self.tokenizer(prompt)["input_ids"]
        return ids

    def decode(self, ids: list[int]) -> str:
        text: str = self.tokenizer.decode(ids, skip_special_tokens=True)
        return text

    def new_token_budget(self, prompt_len: int, requested: int | None) -> int:
        """Tokens this answer may have: asked for, capped, and what the context leaves."""
        wanted = self.max_new_tokens_cap if requested is None else min(requested, self.max_new_tokens_cap)
        return min(wanted, self.context_size - prompt_len)

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    # -- generation --------------------------------------------------------------
    async def start(
        self,
        prompt_ids: list[int],
        params: SamplingParams,
        *,
        stream: bool,
        cancel: threading.Event | None = None,
    ) -> Generation:
        """Wait for the model, then start generating in a worker thread."""
        loop = asyncio.get_running_loop()
        gen = Generation(result=loop.create_future(), cancel=cancel or threading.Event())
        if stream:
            gen.streamer = AsyncTextIteratorStreamer(
                self.tokenizer, skip_prompt=True, skip_special_tokens=True
            )
        await self._lock.acquire()
        try:
            threading.Thread(target=self._run, args=(loop, gen, prompt_ids, params), daemon=True).start()
        except BaseException:
            self._lock.release()
            raise
        return gen

    def _run(
        self, loop: asyncio.AbstractEventLoop, gen: Generation, prompt_ids: list[int], params: SamplingParams
    ) -> None:
        try:
            result = self._generate(gen, prompt_ids, params)
            _settle(loop, _set_result, gen.result, result)
        except Exception as exc:
            _settle(loop, _set_exception, gen.result, exc)
            if gen.streamer is not None:  # unblock the reader; it then sees the exception
                _settle(loop, gen.streamer.text_queue.put_nowait, gen.streamer.stop_signal)
        finally:
            _settle(loop, self._lock.release)

    def _generate(self, gen: Generation, prompt_ids: list[int], params: SamplingParams) -> GenerationResult:
        if gen.cancel.is_set():  # the client left while waiting for the model
            self.stats.cancelled += 1
            if gen.streamer is not None:
                gen.streamer.end()
            return GenerationResult([], len(prompt_ids), "stop")
        criteria: list[StoppingCriteria] = [_Flag(gen.cancel)]
        text_stop = _TextStop(self.tokenizer, params.stops, len(prompt_ids)) if params.stops else None
        if text_stop is not None:
            criteria.append(text_stop)
        kwargs: dict[str, Any] = {"do_sample": params.temperature > 0}
        if kwargs["do_sample"]:
            kwargs.update(temperature=params.temperature, top_p=params.top_p, top_k=0)
        if params.seed is not None:
            torch.manual_seed(params.seed)
        input_ids = torch.tensor([prompt_ids], dtype=torch.long)
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                max_new_tokens=params.max_new_tokens,
                stopping_criteria=StoppingCriteriaList(criteria),
                streamer=gen.streamer,
                pad_token_id=self.tokenizer.pad_token_id,
                eos_token_id=sorted(self.eos_ids),
                **kwargs,
            )
        ids = out[0, len(prompt_ids) :].tolist()
        self.stats.generations += 1
        self.stats.generated_tokens += len(ids)
        if gen.cancel.is_set():
            self.stats.cancelled += 1
        hit_eos = bool(ids) and ids[-1] in self.eos_ids
        stopped = hit_eos or (text_stop is not None and text_stop.hit) or gen.cancel.is_set()
        length = not stopped and len(ids) >= params.max_new_tokens
        return GenerationResult(ids, len(prompt_ids), "length" if length else "stop")

    # -- embeddings --------------------------------------------------------------
    async def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        """Mean-pooled, L2-normalised last hidden states; and the tokens read."""
        async with self._lock:
            return await asyncio.get_running_loop().run_in_executor(None, self._embed, texts)

    def _embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        enc = self.tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=self.context_size,
            padding_side="right",
            return_tensors="pt",
        )
        with torch.inference_mode():
            hidden = self.model.base_model(
                input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]
            ).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
        pooled = torch.nn.functional.normalize(pooled, dim=-1)
        self.stats.embeddings += len(texts)
        return pooled.tolist(), int(enc["attention_mask"].sum())

"""Pretrained Hugging Face causal language models as text in, text out: one loader (hub id or local
folder) and one batched generator (greedy, or seeded sampling) with per-prompt budgets and stop strings.

Used by every experiment that prompts a pretrained model (Pythia / Mamba in repeat_after_me, local
checkpoints in limits_dl's LLM harness, HotpotQA in rnns_not_transformers). ``transformers`` is an
optional extra: ``pip install -e ".[pretrained]"``.

Batches are left-padded so that every prompt's continuation starts at the same column; each row is
then cut exactly where decoding it alone would have stopped (its own token budget, the end-of-text
token, the first occurrence of the stop string), so batching changes no output beyond float rounding.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

import torch

from common.errors import ConfigError

Dtype = Literal["float32", "float16", "bfloat16"]
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def require_transformers():
    """The ``transformers`` module, or an ImportError that says how to install it (one line)."""
    try:
        import transformers
    except ImportError:
        raise ImportError('prompting a pretrained model needs transformers: pip install -e ".[pretrained]"') from None
    return transformers


def cast_except(model, dtype: torch.dtype, keep: tuple[str, ...] = ()):
    """Cast every floating parameter and buffer to ``dtype`` except those whose own name is in ``keep``
    (e.g. Mamba's ``A_log`` and ``D``, which ``mamba_ssm`` keeps in fp32 whatever the model's dtype)."""
    for module in model.modules():
        for name, tensor in [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]:
            if tensor.is_floating_point() and name not in keep:
                tensor.data = tensor.data.to(dtype)
    return model


def _eos_ids(model) -> set[int]:
    """The tokens ``generate`` ends a sequence at (the model's generation config)."""
    ids = model.generation_config.eos_token_id
    return set(ids if isinstance(ids, (list, tuple)) else [] if ids is None else [ids])


@dataclass
class TextGenerator:
    """A causal LM in eval mode and its tokenizer. ``batch_size``: prompts per ``generate`` call."""

    model: object
    tokenizer: object
    batch_size: int = 8
    name: str = "model"

    def __post_init__(self):
        if self.batch_size < 1:
            raise ConfigError(f"batch_size={self.batch_size} must be >= 1")
        tok = self.tokenizer
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token if tok.eos_token is not None else tok.unk_token
        tok.padding_side = "left"

    @property
    def device(self) -> torch.device:
        return self.model.device

    def generate(self, prompts: list[str], max_new_tokens: int, *, skip_special_tokens: bool = False,
                 **kwargs) -> list[str]:
        """The continuation of each prompt, decoded (``skip_special_tokens`` drops end-of-text and padding
        tokens from the text); the other arguments are ``generate_ids``'."""
        return [self.tokenizer.decode(ids, skip_special_tokens=skip_special_tokens)
                for ids in self.generate_ids(prompts, max_new_tokens, **kwargs)]

    def generate_ids(self, prompts: list[str], max_new_tokens: int, *, new_tokens_factor: float = 0.0,
                     stop: Optional[str] = None, suppress_eos_first: bool = False, temperature: float = 0.0,
                     seed: Optional[int] = None) -> list[list[int]]:
        """The new token ids of each prompt's continuation.

        Args:
            max_new_tokens, new_tokens_factor: each prompt's budget is ``max_new_tokens`` plus
                ``new_tokens_factor`` times its own token count (at least 1).
            stop: end a continuation once its text contains ``stop`` (kept, with the rest of the
                token that completed it); an end-of-text token always ends one (kept).
            suppress_eos_first: forbid the end-of-text token as the first new token.
            temperature: 0 is greedy; above 0 samples, seeded by ``seed`` plus the batch's offset.
        """
        out: list[list[int]] = []
        for i in range(0, len(prompts), self.batch_size):
            seed_i = None if seed is None else seed + i
            out += self._batch(prompts[i: i + self.batch_size], max_new_tokens, new_tokens_factor, stop,
                               suppress_eos_first, temperature, seed_i)
        return out

    @torch.no_grad()
    def _batch(self, prompts, max_new_tokens, factor, stop, suppress_eos_first, temperature, seed):
        tf, tok, model = require_transformers(), self.tokenizer, self.model
        enc = tok(prompts, return_tensors="pt", padding=True).to(model.device)
        width = enc["input_ids"].shape[1]
        budgets = [max(1, int(max_new_tokens or 0) + int(factor * int(n))) for n in enc["attention_mask"].sum(1)]
        kwargs = dict(max_new_tokens=max(budgets), pad_token_id=tok.pad_token_id,
                      stopping_criteria=tf.StoppingCriteriaList([_RowDone(tok, width, budgets, stop)]))
        if temperature > 0:
            if seed is not None:
                torch.manual_seed(seed)
            kwargs.update(do_sample=True, temperature=temperature)
        else:
            kwargs.update(do_sample=False)
        if suppress_eos_first and tok.eos_token_id is not None:
            kwargs["begin_suppress_tokens"] = [tok.eos_token_id]
        rows = model.generate(**enc, **kwargs)[:, width:].tolist()
        eos = _eos_ids(model)
        return [_cut(row, budget, eos, stop, tok) for row, budget in zip(rows, budgets)]


def _cut(row: list[int], budget: int, eos: set[int], stop: Optional[str], tok) -> list[int]:
    """The tokens decoding this row alone would have produced: up to its budget, its first end-of-text
    token, or the token that completes ``stop``, whichever comes first."""
    row = row[:budget]
    for k, t in enumerate(row):
        if t in eos:
            row = row[: k + 1]
            break
    if stop and stop in tok.decode(row):
        for k in range(1, len(row) + 1):
            if stop in tok.decode(row[:k]):
                return row[:k]
    return row


class _RowDone:
    """Per row: done once its own budget is spent or its text contains the stop string."""

    def __init__(self, tok, width: int, budgets: list[int], stop: Optional[str]):
        self.tok, self.width, self.budgets, self.stop = tok, width, budgets, stop

    def __call__(self, input_ids, scores, **kwargs):
        n = input_ids.shape[1] - self.width
        done = [n >= b or bool(self.stop and self.stop in self.tok.decode(row[self.width:]))
                for row, b in zip(input_ids, self.budgets)]
        return torch.tensor(done, device=input_ids.device)


def load(name_or_path: str, tokenizer: Optional[str] = None, dtype: Dtype = "float32", device: str = "auto",
         local_only: bool = False, keep_fp32: tuple[str, ...] = (), batch_size: int = 8,
         name: Optional[str] = None) -> TextGenerator:
    """A ``TextGenerator`` for a hub id or a local folder (``local_only``: never the hub).

    Loaded in fp32, then cast to ``dtype`` except the parameters named in ``keep_fp32``;
    ``tokenizer`` (a hub id or folder) replaces the model's own. Bad input (unknown dtype, no such
    model) is a ``ConfigError`` of one line.
    """
    tf = require_transformers()
    if dtype not in DTYPES:
        raise ConfigError(f"dtype={dtype!r}: choose one of {', '.join(DTYPES)}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        tok = tf.AutoTokenizer.from_pretrained(tokenizer or name_or_path, local_files_only=local_only)
        model = tf.AutoModelForCausalLM.from_pretrained(name_or_path, dtype=torch.float32, local_files_only=local_only)
    except (OSError, ValueError) as e:
        where = "a local folder" if local_only or Path(name_or_path).exists() else "a local folder or a hub id"
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConfigError(f"cannot load the model {name_or_path!r} (give {where} with config.json, weights and "
                          f"tokenizer files; offline, the hub is out of reach): {first}") from None
    model = cast_except(model, DTYPES[dtype], keep_fp32).to(device).eval()
    return TextGenerator(model, tok, batch_size, name or str(name_or_path))

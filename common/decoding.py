"""Greedy autoregressive decoding over the model's step-wise state (KV cache or recurrent state)."""
from __future__ import annotations

from typing import Callable

import torch

from common.models.base import SequenceModel

# A retriever sees one sequence so far and returns tokens to splice in, or None.
Retriever = Callable[[list[int]], "list[int] | None"]


@torch.no_grad()
def greedy_generate(model: SequenceModel, prompt: torch.Tensor, max_new_tokens: int,
                    stop_id: int | None = None) -> torch.Tensor:
    """Generate ``max_new_tokens`` argmax tokens after ``prompt`` (B, P); returns (B, max_new_tokens).

    Sequences that emitted ``stop_id`` keep emitting it (so a finished answer stays finished);
    decoding stops early once every sequence has stopped.
    """
    B = prompt.shape[0]
    out = torch.empty(B, max_new_tokens, dtype=torch.long, device=prompt.device)
    if max_new_tokens == 0:
        return out
    state = model.init_state(B, prompt.device)
    logits, state = model.step(prompt, state)
    done = torch.zeros(B, dtype=torch.bool, device=prompt.device)
    for t in range(max_new_tokens):
        nxt = logits[:, -1].argmax(-1)
        if stop_id is not None:
            nxt = torch.where(done, torch.full_like(nxt, stop_id), nxt)
            done |= nxt == stop_id
        out[:, t] = nxt
        if t + 1 == max_new_tokens:
            break
        if stop_id is not None and bool(done.all()):
            out[:, t + 1:] = stop_id
            break
        logits, state = model.step(nxt[:, None], state)
    return out


@torch.no_grad()
def retrieval_generate(model: SequenceModel, prompt: list[int], max_new_tokens: int, retriever: Retriever,
                       stop_id: int | None = None, device=None) -> list[int]:
    """Greedy decoding of one sequence where a task retriever may splice tokens into the context.

    After every generated token the retriever sees the whole sequence; the tokens it returns are
    fed to the model as context (they are not model predictions). Returns everything after the
    prompt, retrieved tokens included, capped at ``max_new_tokens``.
    """
    seq = list(prompt)
    state = model.init_state(1, device)
    logits, state = model.step(torch.tensor([prompt], device=device), state)
    generated: list[int] = []
    while len(generated) < max_new_tokens:
        nxt = int(logits[0, -1].argmax())
        seq.append(nxt)
        generated.append(nxt)
        if nxt == stop_id:
            break
        feed = [nxt]
        spliced = retriever(seq)
        if spliced:
            spliced = spliced[: max_new_tokens - len(generated)]
            seq.extend(spliced)
            generated.extend(spliced)
            feed.extend(spliced)
        logits, state = model.step(torch.tensor([feed], device=device), state)
    return generated

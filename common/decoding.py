"""Greedy autoregressive decoding over the model's step-wise state (KV cache or recurrent state),
plain or with a task retriever that splices tokens into the context (in-context RAG)."""
from __future__ import annotations

from typing import Callable

import torch

from common.models.base import SequenceModel

# A retriever sees one sequence so far and returns tokens to splice in, or None.
Retriever = Callable[[list[int]], "list[int] | None"]


@torch.no_grad()
def teacher_forced_answers(model: SequenceModel, prompt: torch.Tensor, answer: torch.Tensor) -> torch.Tensor:
    """The argmax token at each answer position given the true prefix: (B, P) and (B, A) -> (B, A)."""
    logits = model(torch.cat([prompt, answer[:, :-1]], dim=1))
    return logits[:, prompt.shape[1] - 1:].argmax(-1)


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
def retrieval_generate_batch(model: SequenceModel, prompt: torch.Tensor, max_new_tokens: int, retriever: Retriever,
                             stop_id: int | None = None) -> list[list[int]]:
    """Greedy decoding of a batch of equal-length prompts (B, P) where a retriever splices tokens in.

    After every token the model generates, the retriever sees that row's whole sequence (prompt,
    generated and retrieved tokens); the tokens it returns are fed to the model as context, never
    taken from its predictions. Rows advance in lockstep, one token per step: a row with
    retrieved tokens pending feeds the next of them (the model's prediction there is dropped), so
    each row sees exactly the sequence single-row decoding would give it. A row ends at
    ``stop_id`` (kept) or after ``max_new_tokens`` tokens, retrieved ones included.

    Returns, per row, everything after the prompt (retrieved tokens included), at most
    ``max_new_tokens`` long.

    Training data follow the same convention: retrieved tokens sit in the sequence as inputs
    with ``target_mask`` False (``common.tasks.Example``), so the loss never asks the model to
    predict them and evaluation does not score them.
    """
    B = prompt.shape[0]
    seqs = prompt.tolist()
    out: list[list[int]] = [[] for _ in range(B)]
    pending: list[list[int]] = [[] for _ in range(B)]
    done = [max_new_tokens <= 0] * B
    if all(done):
        return out
    state = model.init_state(B, prompt.device)
    logits, state = model.step(prompt, state)
    while True:
        pred = logits[:, -1].argmax(-1).tolist()
        feed = []
        for r in range(B):
            if done[r]:
                feed.append(seqs[r][-1])  # keeps the batch in step; its outputs are ignored
                continue
            retrieved = bool(pending[r])
            tok = pending[r].pop(0) if retrieved else pred[r]
            seqs[r].append(tok)
            out[r].append(tok)
            if not retrieved:
                if tok == stop_id:
                    done[r] = True
                else:
                    spliced = retriever(seqs[r])
                    if spliced:
                        pending[r] = list(spliced)[: max_new_tokens - len(out[r])]
            if len(out[r]) >= max_new_tokens:
                done[r] = True
            feed.append(tok)
        if all(done):
            return out
        logits, state = model.step(torch.tensor(feed, device=prompt.device)[:, None], state)


def retrieval_generate(model: SequenceModel, prompt: list[int], max_new_tokens: int, retriever: Retriever,
                       stop_id: int | None = None, device=None) -> list[int]:
    """``retrieval_generate_batch`` for one sequence given as a list of token ids."""
    return retrieval_generate_batch(model, torch.tensor([prompt], device=device), max_new_tokens, retriever,
                                    stop_id)[0]


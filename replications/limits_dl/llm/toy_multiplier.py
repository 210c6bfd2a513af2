"""A small GPT-2 trained here on the harness's own multiplication prompts and saved in Hugging Face
format, so that the paper's prompting protocol (``protocol.py``) runs end to end, offline, on a
real if small model: the paper's GPT-4 and Jamba cannot be run here, this stands in for them.

The model reads the exact prompt ``MultiplicationProblem.prompt_text()`` and writes either the
product (plain, ``408``) or long multiplication's shifted partial products, then the product
(scratchpad, ``48+360=408``, the layout of ``multiplication.encode``); the harness's parser reads
the last integer. Tokens: one per word of the prompt template, one per digit, ``+ = .``. Training
draws fresh operands of the given sizes each step and never the problems the harness will ask
(``exclude``), so in-distribution accuracy is on unseen products.

    python -m replications.limits_dl.llm.toy_multiplier --out runs/limits_dl/toy_mult/plain
    python -m replications.limits_dl.llm.toy_multiplier --out runs/limits_dl/toy_mult/scratchpad --scratchpad
    python -m replications.limits_dl.llm --adapter hf --path runs/limits_dl/toy_mult/plain --model toy-plain \\
        --task multiplication:2x2 --task multiplication:3x2 --task multiplication:4x3 --max-tokens 40
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

import torch

from common.seeding import rng_for
from replications.limits_dl import multiplication
from replications.limits_dl.llm.protocol import PAPER_RUNS, PAPER_SAMPLES, problems
from replications.limits_dl.vocab import VOCAB

PAD, EOS, UNK = "[PAD]", "[EOS]", "[UNK]"
SYMBOLS = [str(d) for d in range(10)] + ["+", "=", "."]
IGNORE = -100


def _template_words() -> list[str]:
    text = multiplication.MultiplicationProblem(12, 34).prompt_text()
    return sorted({w.strip(".") for w in text.split() if not w.strip(".").isdigit()})


def build_tokenizer():
    """Word-level tokenizer: template words, single digits, ``+ = .``; decodes without spaces
    (``4 0 8`` -> ``408``) so the harness's integer parser reads the numbers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = [PAD, EOS, UNK] + SYMBOLS + _template_words()
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(),
                                                 pre_tokenizers.Digits(individual_digits=True)])
    tok.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, eos_token=EOS, unk_token=UNK)


def completion(a: int, b: int, scratchpad: bool) -> str:
    """What the model is trained to write after the prompt: ``multiplication.encode``'s answer
    without ``<eos>`` and spaces (the tokenizer splits digits again)."""
    return "".join(VOCAB.decode(multiplication.encode(a, b, scratchpad).answer[:-1]))


def build_model(vocab_size: int, pad_id: int, eos_id: int, n_embd: int = 128, n_layer: int = 3, n_head: int = 4,
                n_positions: int = 96):
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(vocab_size=vocab_size, n_positions=n_positions, n_embd=n_embd, n_layer=n_layer, n_head=n_head,
                     bos_token_id=eos_id, eos_token_id=eos_id, pad_token_id=pad_id,
                     resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    return GPT2LMHeadModel(cfg)


def harness_problems(tasks: list[str], samples: int, runs: int, seed: int) -> set[tuple[int, int]]:
    """Operand pairs the harness will ask for these tasks (kept out of training)."""
    return {(p.a, p.b) for t in tasks for r in range(runs) for p in problems(t, samples, seed, r)}


def make_batch(tok, rng, sizes: list[tuple[int, int]], batch_size: int, scratchpad: bool,
               exclude: set[tuple[int, int]]) -> dict:
    """Right-padded batch; loss only on the completion and its ``[EOS]``."""
    rows, labels = [], []
    while len(rows) < batch_size:
        a, b = multiplication.sample_operands(rng, *sizes[rng.randrange(len(sizes))])
        if (a, b) in exclude:
            continue
        prompt = tok(multiplication.MultiplicationProblem(a, b).prompt_text())["input_ids"]
        answer = tok(completion(a, b, scratchpad))["input_ids"] + [tok.eos_token_id]
        rows.append(prompt + answer)
        labels.append([IGNORE] * len(prompt) + answer)
    width = max(map(len, rows))
    ids = torch.full((batch_size, width), tok.pad_token_id)
    lab = torch.full((batch_size, width), IGNORE)
    mask = torch.zeros((batch_size, width), dtype=torch.long)
    for i, (row, target) in enumerate(zip(rows, labels)):
        ids[i, :len(row)], lab[i, :len(target)], mask[i, :len(row)] = torch.tensor(row), torch.tensor(target), 1
    return {"input_ids": ids, "attention_mask": mask, "labels": lab}


def train(out: str | os.PathLike, scratchpad: bool, sizes=((2, 2), (3, 2)), steps: int = 2000, batch_size: int = 64,
          lr: float = 1e-3, warmup: int = 100, seed: int = 0, exclude: set[tuple[int, int]] = frozenset(),
          model_kw: dict | None = None, log_every: int = 100) -> dict:
    """Train and ``save_pretrained`` model and tokenizer into ``out`` (written whole: a temporary
    folder renamed at the end). Returns the training summary, also written to ``out/training.json``."""
    torch.manual_seed(seed)
    rng = rng_for(seed, "toy-multiplier", scratchpad)
    tok = build_tokenizer()
    model = build_model(len(tok), tok.pad_token_id, tok.eos_token_id, **(model_kw or {}))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    model.train()
    t0, losses = time.time(), []
    for step in range(steps):
        loss = model(**make_batch(tok, rng, list(sizes), batch_size, scratchpad, exclude)).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if log_every and (step + 1) % log_every == 0:
            print(f"step {step + 1}/{steps} loss {sum(losses[-log_every:]) / log_every:.4f}", flush=True)
    model.eval()
    summary = {"scratchpad": scratchpad, "sizes": [list(s) for s in sizes], "steps": steps, "batch_size": batch_size,
               "lr": lr, "seed": seed, "excluded_pairs": len(exclude), "final_loss": losses[-1] if losses else None,
               "num_params": sum(p.numel() for p in model.parameters()), "train_time_s": round(time.time() - t0, 1)}
    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    (tmp / "training.json").write_text(json.dumps(summary, indent=1))
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    return summary


def _sizes(spec: str) -> list[tuple[int, int]]:
    try:
        return [tuple(int(v) for v in s.split("x")) for s in spec.split(",")]
    except ValueError:
        raise SystemExit(f"error: --sizes takes sizes like 2x2,3x2, got {spec!r}") from None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m replications.limits_dl.llm.toy_multiplier",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="folder to save the Hugging Face checkpoint into")
    ap.add_argument("--scratchpad", action="store_true", help="train to write partial products before the product")
    ap.add_argument("--sizes", default="2x2,3x2", help="operand digit counts drawn in training")
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-embd", type=int, default=96)
    ap.add_argument("--n-layer", type=int, default=2)
    ap.add_argument("--exclude-tasks", default="multiplication:2x2,multiplication:3x2",
                    help="harness tasks whose problems (seed --seed, 500 x 3) are kept out of training")
    args = ap.parse_args(argv)
    exclude = harness_problems([t for t in args.exclude_tasks.split(",") if t], PAPER_SAMPLES, PAPER_RUNS, args.seed)
    summary = train(args.out, args.scratchpad, _sizes(args.sizes), args.steps, args.batch_size, args.lr,
                    seed=args.seed, exclude=exclude, model_kw={"n_embd": args.n_embd, "n_layer": args.n_layer})
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

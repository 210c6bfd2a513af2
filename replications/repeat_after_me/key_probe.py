"""How long a key a trained copier uses, read off strings with a planted repeated n-gram.

A copier that finds its place by the last k tokens it emitted (Theorem 2.3, Fig. 3) copies a string
with a repeated n-gram as well as a plain one while n < k, and is ambiguous once n >= k. The probe
scores a finished copying run on such strings (``duplicate_ngram.py``) at one length and prints,
beside its string accuracy, that of the ideal k-token copiers (``ngram_copier.py``) on the same
strings: the column the run follows is the key it learned. The duplicated n-gram figure
(``ngram_dup_cpu``) measures this for the models it trains; the probe measures it for any copying run,
e.g. why a Hard-ALiBi stack generalises far on one seed and not on another.

    python -m replications.repeat_after_me.key_probe runs/repeat_after_me/fig1b_cpu/arch=hard_alibi,seed=0-<id> --length 20
"""
from __future__ import annotations

import argparse
import sys

import torch

from common.position_profile import exact_answers
from replications.repeat_after_me.data import CopyDataModule, DuplicateNgramDataModule
from replications.repeat_after_me.ngram_copier import success_probability


def strings_of(batches: list[dict], alphabet: int) -> list[list[int]]:
    """The copied strings of evaluation batches (their answers without the end marker)."""
    out = []
    for b in batches:
        for answer, mask in zip(b["answer"].tolist(), b["answer_mask"].tolist()):
            out.append([t for t, m in zip(answer, mask) if m and t < alphabet])
    return out


def ideal_accuracy(strings: list[list[int]], k: int) -> float:
    """Expected string accuracy of the ideal k-token copier on ``strings``."""
    return float(sum(success_probability(s, k) for s in strings) / len(strings))


@torch.no_grad()
def probe(model, alphabet: int, length: int, ngrams: list[int], keys: list[int], examples: int = 256,
          eval_seed: int = 20240201) -> list[dict]:
    """Per n: the model's string accuracy and each ideal k-token copier's, on the same planted strings."""
    data = DuplicateNgramDataModule(ngram_sizes=ngrams, dup_length=length, alphabet=alphabet,
                                    min_train_len=1, max_train_len=1, context_len=2 * length + 4,
                                    val_lengths=[1], eval_examples=examples, eval_seed=eval_seed)
    sets = data.eval_data("test")
    rows = []
    for n in ngrams:
        batches = sets[f"n={n}"]
        strings = strings_of(batches, alphabet)
        right = torch.cat([exact_answers(model, b) for b in batches])
        rows.append({"n": n, "model": right.float().mean().item(),
                     **{f"key{k}": ideal_accuracy(strings, k) for k in keys}})
    return rows


def table(rows: list[dict], keys: list[int], length: int) -> str:
    head = ["repeated n-gram", "this run"] + [f"ideal {k}-token key" for k in keys]
    lines = [f"String accuracy at length {length}, strings with one n-gram planted twice (n = 0: none)", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [f"n = {r['n']}", f"{r['model']:.2f}"] + [f"{r[f'key{k}']:.2f}" for k in keys]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from common.load import load_run

    ap = argparse.ArgumentParser(prog="python -m replications.repeat_after_me.key_probe",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir", help="a finished copying run's directory (config.yaml and checkpoints/)")
    ap.add_argument("--length", type=int, default=20, help="string length of the probe (default: 20)")
    ap.add_argument("--ngrams", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5, 6],
                    help="sizes of the planted repeated n-gram (default: 0..6; 0 plants nothing)")
    ap.add_argument("--keys", type=int, nargs="+", default=[2, 3, 4, 5],
                    help="key lengths of the ideal copiers shown beside the run (default: 2 3 4 5)")
    ap.add_argument("--examples", type=int, default=256, help="strings per n (default: 256)")
    args = ap.parse_args(argv)
    bad = [n for n in args.ngrams if n < 0 or 2 * n > args.length]
    if bad:
        ap.error(f"--ngrams {bad}: need 0 <= n and 2n <= --length ({args.length}) to plant an n-gram twice")
    if min(args.keys) < 1:
        ap.error("--keys: a key has at least 1 token")
    module, data = load_run(args.run_dir)
    if not isinstance(data, CopyDataModule) or getattr(data, "retriever", None) is not None:
        print(f"error: {args.run_dir} is a {type(data).__name__} run; the key probe needs a copying run "
              "(CopyDataModule or one derived from it)", file=sys.stderr)
        return 2
    rows = probe(module.model, data.alphabet, args.length, args.ngrams, args.keys, args.examples, data.eval_seed)
    print(table(rows, args.keys, args.length))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

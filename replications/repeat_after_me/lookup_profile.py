"""Where a lookup run's answers go wrong: string accuracy by where the key sits in the string.

An n-gram lookup (Sec. 3.5, Figs. 5 and 6) is answered from the letters after the key's occurrence;
past the training lengths that occurrence can lie further from the query than any training example
put it. Binning a run's evaluation strings by the key's position tells a model whose lookup reaches
every position apart from one that reaches only as far as training did (e.g. relative positions it
never saw) or loses the key over a long read (a recurrent state).

    python -m replications.repeat_after_me.lookup_profile runs/repeat_after_me/fig5_cpu/arch=rope,seed=0-<id> --sets len=36
"""
from __future__ import annotations

from common.position_profile import exact_answers, load_profiled, parse_run_args, run_parser
from replications.repeat_after_me.data import NgramLookupDataModule


def key_position(prompt: list[int], key: str, n_gram: int) -> int:
    """0-based position in the string of the key's first occurrence, read off an unpadded prompt."""
    if key == "prefix":  # $ k | s |
        k, string = prompt[1: 1 + n_gram], prompt[2 + n_gram: -1]
    else:  # $ s | k
        k, string = prompt[-n_gram:], prompt[1: -n_gram - 1]
    return next(i for i in range(len(string)) if string[i: i + n_gram] == k)


def by_key_position(model, batches: list[dict], key: str, n_gram: int) -> dict[int, list[int]]:
    """{key position: [answers, exactly right]} over evaluation batches of equal string length."""
    out: dict[int, list[int]] = {}
    for b in batches:
        for row, ok in zip(b["prompt"].tolist(), exact_answers(model, b).tolist()):
            p = key_position(row, key, n_gram)
            cell = out.setdefault(p, [0, 0])
            cell[0] += 1
            cell[1] += int(ok)
    return out


def span(lo: int, hi: int) -> str:
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


def table(name: str, counts: dict[int, list[int]], size: int, length: int, n_gram: int) -> str:
    lines = [f"**{name}**: string accuracy by the key's place in the string ({length} letters)", "",
             "| key at letters | letters after the key | answers | string accuracy |", "|---|---|---|---|"]
    for lo in range(0, length, size):
        found = [p for p in range(lo, lo + size) if p in counts]
        if not found:
            continue
        n, ok = sum(counts[p][0] for p in found), sum(counts[p][1] for p in found)
        first, last = min(found), max(found)
        lines.append(f"| {span(first + 1, last + 1)} | {span(length - last - n_gram, length - first - n_gram)} | {n} "
                     f"| {ok / n:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = run_parser("python -m replications.repeat_after_me.lookup_profile", __doc__.split("\n\n")[0],
                    "key positions", 6)
    args = parse_run_args(ap, argv)
    loaded = load_profiled(args, lambda data: None if isinstance(data, NgramLookupDataModule) else
                           f"{args.run_dir} is a {type(data).__name__} run; the lookup profile needs an n-gram "
                           "lookup run (NgramLookupDataModule)")
    if loaded is None:
        return 2
    module, data, sets = loaded
    for name, batches in sets.items():
        length = int(batches[0]["prompt"].shape[1]) - data.n_gram - 2 - (1 if data.key == "prefix" else 0)
        counts = by_key_position(module.model, batches, data.key, data.n_gram)
        print(table(name, counts, args.bin, length, data.n_gram), end="\n\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""E4b(a): how far can a one-layer ``QuantSSM`` count, searched without training.

Completing a^n b^n for a given n needs a state after ``<bos> a^n`` that differs from the state of
every other n (the rest of the greedy completion is a function of that state), so the number of
distinct states after ``<bos> a^n``, n = 1, 2, ..., is the longest count the model can hold.
Pigeonhole allows 2^(d p) of them. This model allows far fewer [OURS]: under a repeated token each
coordinate follows h <- Q_p(a h + (1 - a) w) with a in (0, 1) fixed, a monotone map on 2^p levels,
so its orbit is monotone and settles within 2^p - 1 steps; the state vector changes only while some
coordinate does, so at most 2^p distinct states, whatever d is. The search below looks for long
counts in the actual model code (random and perturbed weights): a bug that let coordinates interact,
or a flaw in the argument, would show as a count above 2^p that grows with d.

``python -m replications.limits_dl.capacity`` prints the table and writes the plot (longest count
vs d per p, with 2^p and 2^(d p)).

>>> orbit_length(a=0.5, w=1.0, h0=-1.0, bits=2)  # -1 -> -1/3 -> 1/3 -> 1/3: states -1/3, 1/3
2
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from replications.limits_dl.models import QuantSSM
from replications.limits_dl.quantize import quantize
from replications.limits_dl.vocab import Vocab

VOCAB = Vocab(max_n=1, max_levels=2)


def distinct_counts(model: QuantSSM, n_max: int) -> int:
    """Distinct states of the first layer after ``<bos> a^n`` for n = 1..n_max (the longest count)."""
    idx = torch.tensor([[VOCAB.bos_id] + [VOCAB.id("a")] * n_max])
    hs = model.states(idx)[0][0, 1:]  # (n_max, d): after a^1 .. a^n_max
    return len({tuple(r.tolist()) for r in hs})


def orbit_length(a: float, w: float, h0: float, bits: int, n_max: int = 4096) -> int:
    """Distinct values of one coordinate after 1..n_max repeated tokens, from h0 (the state after
    ``<bos>``): the same recurrence and rounding as ``QuantSSM``, one number at a time."""
    h, seen = torch.tensor(h0), set()
    for _ in range(n_max):
        nxt = quantize(a * h + (1 - a) * torch.tanh(torch.tensor(w)), bits, -1.0, 1.0)
        seen.add(round(float(nxt), 6))
        if torch.equal(nxt, h):
            break
        h = nxt
    return len(seen)


def one_coordinate_max(bits: int, grid: int = 41) -> int:
    """Longest orbit of one coordinate over a grid of decays a, writes w and starting levels."""
    best = 0
    starts = [-1 + 2 * i / (2 ** bits - 1) for i in range(2 ** bits)]
    for i in range(1, grid):
        a = i / grid
        for j in range(grid + 1):
            w = -3 + 6 * j / grid  # tanh(w) covers (-1, 1)
            for h0 in starts:
                best = max(best, orbit_length(a, w, h0, bits, n_max=2 ** bits + 2))
    return best


def _randomise(model: QuantSSM, gen: torch.Generator, scale: float) -> None:
    with torch.no_grad():
        for e in model.embed:
            e.weight.normal_(0, 1, generator=gen)
        for layer in model.layers:
            for lin in (layer.gate, layer.write):
                lin.weight.normal_(0, scale, generator=gen)
                lin.bias.normal_(0, scale, generator=gen)


def search(bits: int, d: int, draws: int = 100, n_max: int = 64, seed: int = 0) -> int:
    """Longest count found over ``draws`` random one-layer models (gate and write weights drawn at
    several scales, so decays near 0, near 1 and in between all occur)."""
    gen = torch.Generator().manual_seed(seed)
    model = QuantSSM(VOCAB.size, d_model=16, d_state=d, bits=bits, context=1)
    best = 0
    for i in range(draws):
        _randomise(model, gen, scale=(0.3, 1.0, 3.0, 10.0)[i % 4])
        best = max(best, distinct_counts(model, n_max))
    return best


def table(ps=(1, 2, 3, 4), ds=(1, 2, 8, 32), draws: int = 100, n_max: int = 64) -> list[dict]:
    rows = []
    for p in ps:
        single = one_coordinate_max(p)
        for d in ds:
            rows.append({"p": p, "d": d, "found": search(p, d, draws, n_max), "one_coordinate": single,
                         "bound_2^p": 2 ** p, "pigeonhole_2^(dp)": 2 ** (d * p)})
    return rows


def verdicts(rows: list[dict]) -> list[str]:
    """The claims of E4b(a) with their kinds and verdicts."""
    bound = all(r["found"] <= r["bound_2^p"] for r in rows)
    flat = all(r["found"] <= r["one_coordinate"] for r in rows)
    return [f"- check (proved above [OURS]; fails only on a bug): longest count <= 2^p for every (p, d): "
            f"{'holds (check)' if bound else 'FAILS (check)'}",
            f"- prediction (can fail: coordinates would have to interact): no d counts further than the best "
            f"single coordinate, so capacity is flat in d: {'holds' if flat else 'fails'}"]


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, p in enumerate(sorted({r["p"] for r in rows})):
        rs = [r for r in rows if r["p"] == p]
        ds = [r["d"] for r in rs]
        c = f"C{i}"
        ax.plot(ds, [r["found"] for r in rs], "o-", color=c, label=f"p={p}: longest count found")
        ax.plot(ds, [2 ** p] * len(ds), "--", color=c, lw=1, label=f"2^p = {2 ** p} (monotone orbits)")
        ax.plot(ds, [min(r["pigeonhole_2^(dp)"], 1e12) for r in rs], ":", color=c, lw=1)
    ax.plot([], [], "k:", lw=1, label="2^(d p) (pigeonhole)")
    ax.set(xscale="log", yscale="log", xlabel="d (state numbers)", ylabel="distinct states after <bos> a^n",
           title="E4b(a): counting capacity of a one-layer QuantSSM, no training", ylim=(0.8, 1e4))
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--draws", type=int, default=100)
    ap.add_argument("--n-max", type=int, default=64)
    ap.add_argument("--out", default="runs/limits_dl/e4b_search")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    rows = table(draws=args.draws, n_max=args.n_max)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["| p | d | longest count found | one coordinate, grid search | 2^p | 2^(d p) |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['p']} | {r['d']} | {r['found']} | {r['one_coordinate']} | {r['bound_2^p']} | "
              f"{r['pigeonhole_2^(dp)']:.3g} |" for r in rows]
    lines += ["", *verdicts(rows)]
    text = "\n".join(lines) + "\n"
    (out / "report.md").write_text(text)
    plot(rows, out / "e4b_search.png")
    print(text + f"Written: {out / 'report.md'}, {out / 'e4b_search.png'}")


if __name__ == "__main__":
    main()

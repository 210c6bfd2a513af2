"""Command line of the LLM harness: run the protocol for one model on one or more tasks, write
every completion and a report with the published numbers beside the measured ones.

    python -m replications.limits_dl.llm --adapter openai --base-url http://127.0.0.1:8000/v1 \\
        --model my-model --allow-network --task multiplication:4x3
    python -m replications.limits_dl.llm --adapter hf --path /models/some-checkpoint --task dp:6
    python -m replications.limits_dl.llm --adapter oracle --task multiplication:4x3   # protocol check
    python -m replications.limits_dl.llm --report-only   # the published numbers, nothing run

Writes ``<out>/<model>/<task>.json`` (accuracies + records) and ``<out>/report.md`` (every result
under ``<out>``, and each published value with "not run here" where no run matches it).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from common.io import atomic_write_text
from common.published import load_published
from replications.limits_dl.llm.interface import GenerationConfig, OracleModel
from replications.limits_dl.llm.protocol import PAPER_RUNS, PAPER_SAMPLES, evaluate, problems

PUBLISHED = Path(__file__).parents[1] / "published.yaml"
FIGURE = "llm"  # published.yaml entries of the prompted-LLM results


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def build_model(args):
    if args.adapter == "openai":
        from replications.limits_dl.llm.openai_adapter import OpenAICompatibleModel

        if not args.base_url or not args.model:
            raise SystemExit("error: --adapter openai needs --base-url and --model")
        return OpenAICompatibleModel(args.base_url, args.model, api_key_env=args.api_key_env, chat=not args.no_chat,
                                     enabled=args.allow_network, timeout_s=args.timeout, max_retries=args.retries)
    if args.adapter == "hf":
        from replications.limits_dl.llm.hf_adapter import HFLocalModel

        if not args.path:
            raise SystemExit("error: --adapter hf needs --path (a local checkpoint folder)")
        return HFLocalModel(args.path, device=args.device, dtype=args.dtype, batch_size=args.batch_size,
                            name=args.model)
    answers = {p.prompt_text(): p.reference_answer()
               for task in args.task for r in range(args.runs)
               for p in problems(task, args.samples, args.seed, r)}
    return OracleModel(answers, error_rate=args.oracle_error, seed=args.seed, name=args.model or "oracle")


def load_results(out: Path) -> list[dict]:
    found = []
    for p in sorted(out.glob("*/*.json")):
        data = json.loads(p.read_text())
        if isinstance(data, dict) and {"model", "task", "mean"} <= set(data):
            found.append(data)
    return found


def render_report(results: list[dict], published_path: Path = PUBLISHED) -> str:
    """Markdown: measured runs, then each published value beside the matching run or 'not run here'."""
    pub = [v for v in load_published(published_path) if v.figure == FIGURE]
    lines = ["## Prompted LLMs (the paper's own experiments, note §5)", "",
             "Accuracy = fraction of problems whose final answer the task's parser accepts; mean ± std over runs.", "",
             "### Measured here", "", "| model | task | samples x runs | accuracy | per run |", "|---|---|---|---|---|"]
    for r in results:
        per = ", ".join(f"{a:.3f}" for a in r["accuracies"])
        lines.append(f"| {r['model']} | {r['task']} | {r['samples']} x {r['runs']} | {r['mean']:.3f} ± {r['std']:.3f} "
                     f"| {per} |")
    if not results:
        lines.append("| (none) | | | | |")
    lines += ["", "### Published (Zubić et al. 2025)", "",
              "| model | task | published | measured here | status | source |", "|---|---|---|---|---|---|"]
    for v in pub:
        match = [r for r in results if r["model"].lower() == v.series.lower() and r["task"] == str(v.x)]
        if match:
            r = match[-1]
            ok = abs(r["mean"] - v.y) <= v.tolerance + v.uncertainty
            measured, status = f"{r['mean']:.3f} ± {r['std']:.3f}", "agrees" if ok else "differs"
        else:
            measured, status = "", "not run here"
        lines.append(f"| {v.series} | {v.x} | {v.y:.2f} ({v.how}) | {measured} | {status} | {v.source} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m replications.limits_dl.llm", description=__doc__.split("\n\n")[0])
    ap.add_argument("--adapter", choices=("openai", "hf", "oracle"), default="oracle")
    ap.add_argument("--task", action="append", default=[], help="task spec, repeatable (default multiplication:4x3)")
    ap.add_argument("--samples", type=int, default=PAPER_SAMPLES)
    ap.add_argument("--runs", type=int, default=PAPER_RUNS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--temperature", type=float, default=0.0)
    ap.add_argument("--batch-size", type=int, default=16, help="prompts per request (hf: per generate call)")
    ap.add_argument("--model", help="model id (openai) or display name")
    ap.add_argument("--base-url")
    ap.add_argument("--api-key-env", default="OPENAI_API_KEY")
    ap.add_argument("--no-chat", action="store_true", help="use /completions instead of /chat/completions")
    ap.add_argument("--allow-network", action="store_true", help="let the HTTP adapter send requests")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--retries", type=int, default=3)
    ap.add_argument("--path", help="local Hugging Face checkpoint folder (adapter hf)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--oracle-error", type=float, default=0.0)
    ap.add_argument("--out", default="runs/limits_dl/llm")
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args(argv)
    args.task = args.task or ["multiplication:4x3"]
    out = Path(args.out)
    if not args.report_only:
        model = build_model(args)
        config = GenerationConfig(max_tokens=args.max_tokens, temperature=args.temperature,
                                  seed=args.seed if args.temperature > 0 else None)
        for task in args.task:
            res = evaluate(model, task, args.samples, args.runs, args.seed, config, batch_size=args.batch_size)
            path = out / _safe(model.name) / f"{_safe(task)}.json"
            atomic_write_text(path, json.dumps(res, indent=1))
            print(f"{model.name} {task}: {res['mean']:.3f} ± {res['std']:.3f} over {args.runs} runs of "
                  f"{args.samples} ({path})")
    md = render_report(load_results(out))
    atomic_write_text(out / "report.md", md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())

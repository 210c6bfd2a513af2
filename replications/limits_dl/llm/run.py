"""Command line of the LLM harness: run the protocol for one model on one or more tasks, write
every completion and a report with the published numbers beside the measured ones.

    python -m replications.limits_dl.llm --adapter openai --base-url http://127.0.0.1:8000/v1 \\
        --model my-model --allow-network --task multiplication:4x3
    python -m replications.limits_dl.llm --adapter hf --path /models/some-checkpoint --task dp:6
    python -m replications.limits_dl.llm --adapter oracle --task multiplication:4x3   # protocol check
    python -m replications.limits_dl.llm --report-only   # the published numbers, nothing run

Writes ``<out>/<model>/<task>.json`` (accuracies + records) and, through ``common.report``,
``<out>/report.md``, ``report.csv`` and ``llm.png`` (every result under ``<out>``; each published value
beside the run whose model name and task match it, or "not run": name a model as the paper does,
``--model GPT-4``, to compare it).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

from common.io import atomic_write_text
from common.figure import Figure
from common.published import load_published
from common.report import build_report
from common.report import write_report as write_report_files
from replications.limits_dl.llm.interface import GenerationConfig, OracleModel
from replications.limits_dl.llm.protocol import PAPER_RUNS, PAPER_SAMPLES, evaluate, problems

PUBLISHED = Path(__file__).parents[1] / "published.yaml"
FIGURE_ID = "llm"  # published.yaml entries of the prompted-LLM results


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


FIGURE = Figure(id=FIGURE_ID, title="Prompted LLMs: accuracy per task", x="axis:task", y="acc", series=["model"],
                panels=True)


def as_results(results: list[dict]) -> list[dict]:
    """One record per protocol run in ``common.report``'s layout (labels model, task, run; final acc), so
    the report gives each model and task the mean and std over runs."""
    return [{"labels": {"model": r["model"], "task": r["task"], "run": str(i)}, "final": {"acc": acc}, "history": []}
            for r in results for i, acc in enumerate(r["accuracies"])]


def write_report(results: list[dict], out: Path, published_path: Path = PUBLISHED) -> str:
    """``<out>/report.md``, ``report.csv`` and ``llm.png`` through ``common.report``: each published value
    beside the run of the same model name and task, or "not run"."""
    published = load_published(published_path)
    paper = yaml.safe_load(Path(published_path).read_text()).get("paper", "")
    runs = as_results(results)
    return write_report_files(build_report(FIGURE, runs, published, paper, expected_runs=len(runs)), FIGURE,
                              published, out)


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
    print(write_report(load_results(out), out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

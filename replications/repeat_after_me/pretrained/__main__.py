"""``python -m replications.repeat_after_me.pretrained {run,report} --config NAME [options]``."""
import argparse
import sys
from pathlib import Path

from common.errors import ConfigError
from common.textgen import DTYPES
from replications.repeat_after_me.pretrained.run import load_config, report, run_model


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m replications.repeat_after_me.pretrained",
                                 description="Pretrained-model figures of Jelassi et al. 2024 (Sec. 4).")
    ap.add_argument("command", choices=["run", "report"])
    ap.add_argument("--config", required=True, help="a name in pretrained/configs/ or a path")
    ap.add_argument("--runs_dir", default="runs")
    ap.add_argument("--models", nargs="*", default=None,
                    help="run only these labels; LABEL=PATH also points a label at a local folder")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--per_length", type=int, default=None, help="override prompts per batch")
    ap.add_argument("--batches", type=int, default=None, help="override batches per x")
    ap.add_argument("--lengths", type=int, nargs="*", default=None, help="override the x values")
    ap.add_argument("--batch_size", type=int, default=None, help="prompts per generate call (default 1)")
    ap.add_argument("--data_file", default=None, help="copy: text documents; squad: SQuAD-v2 JSON")
    ap.add_argument("--tokenizer", default=None, help="folder or hub id for every model; 'own': each model's own")
    ap.add_argument("--dtype", default=None, choices=list(DTYPES), help="one dtype for every model")
    ap.add_argument("--phone_format", default=None, choices=["dashed", "plain"],
                    help="phone book: 609-323-7777 as the paper prints it, or ten digits as the official code")
    args = ap.parse_args(argv)
    try:
        cfg = load_config(args.config)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for key in ("per_length", "batches", "lengths", "batch_size", "data_file", "phone_format"):
        if getattr(args, key) is not None:
            setattr(cfg, key, getattr(args, key))
    if args.tokenizer is not None:
        cfg.tokenizer = None if args.tokenizer == "own" else args.tokenizer
    if args.dtype is not None:
        cfg.dtypes = {label: args.dtype for label in cfg.models}
    labels = []
    for item in args.models or []:
        label, _, path = item.partition("=")
        if label not in cfg.models and not path:
            print(f"error: unknown model {label!r}; the figure has {', '.join(cfg.models)}", file=sys.stderr)
            return 2
        if path:
            cfg.models[label] = path
        labels.append(label)
    runs_dir = Path(args.runs_dir)
    if args.command == "run":
        for label in labels or list(cfg.models):
            try:
                r = run_model(cfg, label, runs_dir, args.device)
            except (ConfigError, ImportError) as e:
                print(f"error: {label}: {e}", file=sys.stderr)
                return 2
            print(f"{label}: {r['wall_time_s']} s")
    print(report(cfg, runs_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())

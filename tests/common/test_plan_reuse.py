"""Planning reuses one parse for runs that differ only in their seeds, and plans exactly what parsing each would."""
import copy

import yaml

from common import cli, config


def plan(path):
    parser, cfg = cli.parse("replications.repeat_after_me", ["--config", str(path)], "test")
    return cli.plan_runs(parser, cfg)


def test_seed_runs_reuse_a_parse_and_match_a_full_parse(tiny_dict, tmp_path, monkeypatch):
    cfg = copy.deepcopy(tiny_dict)
    cfg["data"]["init_args"]["seed"] = None  # follows seed_everything
    cfg["sweep"]["grid"].append({"name": "seed", "key": "seed_everything", "values": [0, 1, 2]})
    path = tmp_path / "seeds.yaml"
    path.write_text(yaml.safe_dump(cfg))
    parses = []
    real = config.reuse_parse
    monkeypatch.setattr(config, "reuse_parse", lambda *a: parses.append(a[0] is not None) or real(*a))
    reused = plan(path)
    assert parses.count(True) == 4  # 2 architectures x 3 seeds: 2 parsed, 4 reused
    monkeypatch.setattr(config, "reuse_parse", lambda *a: None)
    full = plan(path)
    assert [r.run_id for r in reused] == [r.run_id for r in full] and len({r.run_id for r in full}) == 6
    assert [r.config for r in reused] == [r.config for r in full]
    assert all(a.namespace == b.namespace for a, b in zip(reused, full))
    assert [(r.config["seed_everything"], r.config["data"]["init_args"]["seed"]) for r in reused[:3]] == \
        [(0, 0), (1, 1), (2, 2)]

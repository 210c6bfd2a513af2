"""The paper-scale warning: real timed steps, scaled by each pending run's cost; asks only in a terminal."""
import io
from types import SimpleNamespace

import torch

from common import estimate
from common.lit.datamodule import SyntheticDataModule
from common.models import Transformer
from common.tasks import Example


class Copy(SyntheticDataModule):
    vocab_size = 8

    def train_example(self, rng):
        toks = [rng.randrange(1, 8) for _ in range(6)]
        return Example(toks, [False] * 3 + [True] * 3, 3)


def run(index, steps, name):
    return SimpleNamespace(index=index, name=name, config={"trainer": {"max_steps": steps}})


def build(_run):
    torch.manual_seed(0)
    return SimpleNamespace(model=SimpleNamespace(model=Transformer(8, d_model=16, n_layer=1, n_head=2)),
                           data=Copy(batch_size=4))


def test_steps_are_real_training_steps():
    init = build(None)
    before = [p.detach().clone() for p in init.model.model.parameters()]
    import random
    s = estimate.seconds_per_step(init.model.model, lambda i: init.data.train_batch(random.Random(i)))
    assert s > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, init.model.model.parameters()))


def test_estimate_times_the_cheapest_run_and_scales_by_cost(monkeypatch):
    monkeypatch.setattr(estimate, "seconds_per_step", lambda model, make: 2.0)
    pending = [run(0, 10, "big"), run(1, 10, "small")]
    name, step_s, ratio = estimate.estimate_pending(pending, {0: 300.0, 1: 100.0}, build)
    assert (name, step_s, ratio) == ("small", 2.0, 40.0)  # 400 cost units / 10 per step of "small"


def test_warning_without_gpu_names_runs_steps_time_and_the_way_out(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(estimate, "seconds_per_step", lambda model, make: 3.0)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert estimate.go_on_without_gpu([run(0, 78125, "n=16,model=a"), run(1, 78125, "n=32,model=b")],
                                      {0: 1.0, 1: 1.0}, build, workers=1)
    err = capsys.readouterr().err
    assert "paper-scale" in err and "2 run(s)" in err and "156,250 training steps" in err
    assert "5.4 days" in err and "--sweep.only" in err  # 2 x 78,125 steps x 3 s


def test_in_a_terminal_it_asks_and_no_stops(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(estimate, "seconds_per_step", lambda model, make: 1.0)
    stdin = io.StringIO("n\n")
    stdin.isatty = lambda: True
    monkeypatch.setattr("sys.stdin", stdin)
    assert not estimate.go_on_without_gpu([run(0, 10, "a")], {0: 1.0}, build)


def test_with_a_gpu_nothing_is_timed(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(estimate, "seconds_per_step", lambda *a: (_ for _ in ()).throw(AssertionError("timed")))
    assert estimate.go_on_without_gpu([run(0, 10, "a")], {0: 1.0}, build)


def sized_run(d_model, steps, seed=0):
    return SimpleNamespace(config={"model": {"d_model": d_model}, "data": {"init_args": {"seed": seed}},
                                   "trainer": {"max_steps": steps}})


def build_sized(r):
    torch.manual_seed(0)
    d = r.config["model"]["d_model"]
    return SimpleNamespace(model=SimpleNamespace(model=Transformer(8, d_model=d, n_layer=2, n_head=2)),
                           data=Copy(batch_size=64 if d > 64 else 1))


def test_pool_order_times_a_step_of_each_model_once_and_scales_by_its_steps():
    built, threads = [], torch.get_num_threads()
    runs = [sized_run(8, 100), sized_run(8, 1000, seed=1), sized_run(256, 100)]
    secs = estimate.timed_costs(runs, lambda r: built.append(r) or build_sized(r), rough=[3.0, 2.0, 1.0])
    assert len(built) == 2  # the two width-8 runs differ only in the seed: one timed step serves both
    assert secs[1] == 10 * secs[0]  # same step, ten times the steps
    assert secs[2] > secs[0]  # a 256-wide model on 64 rows takes longer a step than an 8-wide one on 1
    assert torch.get_num_threads() == threads  # timed on one thread, as a worker trains; then restored


def test_pool_order_falls_back_to_the_rough_cost_when_a_run_cannot_be_timed():
    def broken(r):
        raise RuntimeError("no data here")
    assert estimate.timed_costs([sized_run(8, 100), sized_run(8, 200)], broken, rough=[5.0, 7.0]) == [5.0, 7.0]

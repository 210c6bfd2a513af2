"""The LLM harness end to end: protocol and scorers through the oracle, the HTTP adapter against a
fake OpenAI-compatible server on 127.0.0.1 (bounded requests), the CLI and its report."""
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from replications.limits_dl.llm import protocol as P
from replications.limits_dl.llm import run as R
from replications.limits_dl.llm.interface import GenerationConfig, OracleModel
from replications.limits_dl.llm.openai_adapter import NetworkDisabled, OpenAICompatibleModel

TASKS = ["multiplication:4x3", "dp:6", "einstein:3x2", "composition:function:2", "composition:spatial:3",
         "composition:temporal:2", "composition:relational:3"]
MULT = re.compile(r"Multiply (\d+) by (\d+)\.")


def fake_answer(prompt: str) -> str:
    """The fake model: right on multiplications whose first operand is even, off by one otherwise."""
    a, b = (int(v) for v in MULT.search(prompt).groups())
    return f"Let me compute.\n{a * b + (a % 2)}"


class FakeServer:
    """OpenAI-compatible /v1/chat/completions on 127.0.0.1, serving at most ``limit`` requests; the
    first ``fail_first`` get HTTP 503 (to exercise retries)."""

    def __init__(self, limit: int, fail_first: int = 0):
        self.limit, self.fail_first, self.seen = limit, fail_first, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.seen.append((self.path, body, self.headers.get("Authorization")))
                if len(outer.seen) <= outer.fail_first:
                    self.send_response(503)
                    self.end_headers()
                    return
                text = fake_answer(body["messages"][-1]["content"])
                data = json.dumps({"choices": [{"message": {"role": "assistant", "content": text}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.timeout = 5
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        for _ in range(self.limit):  # bounded: never more than `limit` requests
            self.httpd.handle_request()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.server_close()
        self.thread.join(timeout=10)


@pytest.mark.parametrize("task", TASKS)
def test_oracle_scores_every_task_correct_and_wrong_text_incorrect(task):
    probs = P.problems(task, 6, seed=1)
    oracle = OracleModel({p.prompt_text(): p.reference_answer() for p in probs})
    res = P.evaluate(oracle, task, samples=6, runs=1, seed=1)
    assert res["mean"] == 1.0 and len(res["records"]) == 6
    assert not any(p.check("I cannot tell.") for p in probs)


def test_protocol_defaults_are_the_papers_and_runs_differ():
    assert (P.PAPER_SAMPLES, P.PAPER_RUNS) == (500, 3)
    a, b = P.problems("multiplication:4x3", 5, run=0), P.problems("multiplication:4x3", 5, run=1)
    assert [p.prompt_text() for p in a] != [p.prompt_text() for p in b]
    assert [p.prompt_text() for p in a] == [p.prompt_text() for p in P.problems("multiplication:4x3", 5, run=0)]
    with pytest.raises(ValueError):
        P.make_problem("sudoku:9", __import__("random").Random(0))


def test_noisy_oracle_accuracy_is_measured_not_assumed():
    task = "dp:5"
    probs = [p for r in range(3) for p in P.problems(task, 40, seed=2, run=r)]
    oracle = OracleModel({p.prompt_text(): p.reference_answer() for p in probs}, error_rate=0.5, seed=3)
    res = P.evaluate(oracle, task, samples=40, runs=3, seed=2)
    right = sum(r["correct"] for r in res["records"])
    assert 0 < right < 120 and res["mean"] == pytest.approx(right / 120, abs=1e-9)


def test_http_adapter_is_off_by_default():
    m = OpenAICompatibleModel("http://127.0.0.1:9/v1", "x")
    with pytest.raises(NetworkDisabled):
        m.complete(["hi"], GenerationConfig())
    assert m.requests_sent == 0


def test_http_adapter_end_to_end_against_fake_server(monkeypatch):
    monkeypatch.setenv("LDL_TEST_KEY", "sekret")
    task, samples, runs = "multiplication:4x3", 10, 3
    with FakeServer(limit=samples * runs + 2, fail_first=2) as srv:
        model = OpenAICompatibleModel(srv.url, "fake-gpt", api_key_env="LDL_TEST_KEY", enabled=True,
                                      timeout_s=5, max_retries=2, backoff_s=0.01)
        res = P.evaluate(model, task, samples=samples, runs=runs, seed=4, config=GenerationConfig(max_tokens=64))
    assert len(srv.seen) == samples * runs + 2 == model.requests_sent  # 2 failures retried
    path, body, auth = srv.seen[-1]
    assert path == "/v1/chat/completions" and body["model"] == "fake-gpt" and body["max_tokens"] == 64
    assert auth == "Bearer sekret" and body["temperature"] == 0.0
    expected = [sum(p.a % 2 == 0 for p in P.problems(task, samples, 4, r)) / samples for r in range(runs)]
    assert res["accuracies"] == expected and 0 < res["mean"] < 1


def test_http_adapter_gives_up_after_bounded_retries():
    with FakeServer(limit=3, fail_first=3) as srv:
        model = OpenAICompatibleModel(srv.url, "m", enabled=True, timeout_s=5, max_retries=2, backoff_s=0.01)
        with pytest.raises(RuntimeError, match="503"):
            model.complete(["Multiply 2 by 3."], GenerationConfig())
    assert model.requests_sent == 3


def test_cli_against_fake_server_writes_report_with_published_rows(tmp_path, capsys):
    with FakeServer(limit=8) as srv:
        rc = R.main(["--adapter", "openai", "--base-url", srv.url, "--model", "fake-gpt", "--allow-network",
                     "--task", "multiplication:4x3", "--samples", "4", "--runs", "2", "--out", str(tmp_path),
                     "--retries", "0"])
    assert rc == 0
    saved = json.loads((tmp_path / "fake-gpt" / "multiplication_4x3.json").read_text())
    assert len(saved["records"]) == 8 and saved["runs"] == 2
    report = (tmp_path / "report.md").read_text()
    mean = sum(saved["accuracies"]) / len(saved["accuracies"])
    assert f"| fake-gpt | multiplication:4x3 | {mean:.3f} |" in report and " | 2 |" in report
    for model, value in (("GPT-4", "0.270"), ("Jamba", "0.170")):
        row = next(line for line in report.splitlines() if line.startswith(f"| {model} | "))
        assert f"{value} / not run" in row


def test_cli_without_allow_network_refuses(tmp_path):
    with pytest.raises(NetworkDisabled):
        R.main(["--adapter", "openai", "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--samples", "1",
                "--runs", "1", "--out", str(tmp_path)])


def test_report_only_lists_the_published_numbers_as_not_run(tmp_path, capsys):
    assert R.main(["--report-only", "--out", str(tmp_path)]) == 0
    report = (tmp_path / "report.md").read_text()
    assert report.count(" / not run |") == 2 and "No run of this figure has finished yet." in report

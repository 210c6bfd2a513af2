"""Docs render and speak to a reader of the repository alone: well-formed tables, no machine paths."""
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:work|home|root|Users|mnt|scratch)/[\w.-]+")
TEXT_SUFFIXES = {".md", ".py", ".yaml", ".yml", ".toml", ".txt", ".cfg", ".sh", ""}


def tracked_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        files = [ROOT / line for line in out.splitlines()]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: every file under the root
        files = [p for p in ROOT.rglob("*") if ".git" not in p.parts]
    return [p for p in files if p.is_file() and p.suffix in TEXT_SUFFIXES and "tests" not in p.relative_to(ROOT).parts[:1]]


def table_cells(line: str) -> int:
    """Cells of a GitHub table row: split on pipes that are not escaped (a pipe in a code span splits too)."""
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    body = body[:-1] if body.endswith("|") and not body.endswith("\\|") else body
    return len(re.split(r"(?<!\\)\|", body))


def malformed_tables(text: str) -> list[str]:
    """Rows whose cell count differs from their table's header, as 'line N: got x, header y'."""
    problems, lines, in_code = [], text.splitlines(), False
    i = 0
    while i < len(lines):
        if lines[i].lstrip().startswith("```"):
            in_code = not in_code
        is_header = (not in_code and i + 1 < len(lines) and lines[i].lstrip().startswith("|")
                     and re.fullmatch(r"\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*", lines[i + 1]))
        if not is_header:
            i += 1
            continue
        width = table_cells(lines[i])
        if table_cells(lines[i + 1]) != width:
            problems.append(f"line {i + 2}: delimiter row has {table_cells(lines[i + 1])} cells, header {width}")
        j = i + 2
        while j < len(lines) and lines[j].lstrip().startswith("|"):
            if table_cells(lines[j]) != width:
                problems.append(f"line {j + 1}: {table_cells(lines[j])} cells, header {width}")
            j += 1
        i = j
    return problems


def test_the_table_checker_finds_a_stray_pipe():
    good = "| a | b |\n|---|---|\n| `x \\| y` | 2 |\n"
    bad = "| a | b |\n|---|---|\n| `x | y` | 2 |\n"
    assert malformed_tables(good) == [] and malformed_tables(bad) == ["line 3: 3 cells, header 2"]


@pytest.mark.parametrize("path", sorted(p for p in tracked_files() if p.suffix == ".md"), ids=lambda p: str(p.relative_to(ROOT)))
def test_markdown_tables_render(path):
    assert malformed_tables(path.read_text(encoding="utf-8")) == []


def test_no_machine_paths_in_tracked_files():
    found = [f"{p.relative_to(ROOT)}:{n}: {m.group(0)}" for p in tracked_files()
             for n, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
             for m in [MACHINE_PATH.search(line)] if m]
    assert found == []

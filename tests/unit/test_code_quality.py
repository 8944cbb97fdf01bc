"""The code passes its linter and its type checker, as configured in pyproject.toml.

Both run from this virtualenv, as CI runs them; mypy keeps its cache in .mypy_cache,
so a second run takes a fraction of a second.
"""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Every folder of Python, held to the config in pyproject.toml.
RUFF_CHECKED = ["shared", "services", "campaign", "examples", "tests", "bench"]

# Not code of the project's own.
NOT_SOURCE = {".venv", ".git", "build", "deploy", "docs", "schemas"}


def run(tool, *args):
    return subprocess.run([sys.executable, "-m", tool, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_ruff_finds_nothing_in_the_folders_it_checks():
    result = run("ruff", "check", *RUFF_CHECKED)
    assert result.returncode == 0, f"ruff check {' '.join(RUFF_CHECKED)}:\n{result.stdout}{result.stderr}"


def test_mypy_finds_nothing_in_the_modules_it_checks():
    # Which files and which modules are strict: [tool.mypy] in pyproject.toml.
    result = run("mypy")
    assert result.returncode == 0, f"mypy:\n{result.stdout}{result.stderr}"


def test_every_folder_of_python_is_checked_by_ruff():
    folders = {
        path.name for path in ROOT.iterdir()
        if path.is_dir() and path.name not in NOT_SOURCE and not path.name.startswith(".")
        and not path.name.endswith(".egg-info") and any(path.rglob("*.py"))
    }
    assert folders <= set(RUFF_CHECKED)

"""The package's layers import one way (the contract in pyproject.toml, checked by import-linter)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _lint(config: Path) -> subprocess.CompletedProcess:
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run(
        [sys.executable, "-c", code, "--config", str(config), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_layers_import_one_way():
    result = _lint(ROOT / "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_contract_catches_an_upward_import(tmp_path):
    """The same contract on a copy of the package where brain imports output: broken (the check can fail)."""
    import shutil

    copy = tmp_path / "uncertainty"
    shutil.copytree(ROOT / "uncertainty", copy, ignore=shutil.ignore_patterns("__pycache__", "data"))
    cost = copy / "brain" / "cost.py"
    cost.write_text(cost.read_text() + "\nfrom ..output import tables  # noqa: E402\n")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    code = (
        "import sys; sys.path.insert(0, sys.argv.pop(1)); "
        "from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path), "--config", str(tmp_path / "pyproject.toml"), "--no-cache"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0, result.stdout
    assert "uncertainty.brain is not allowed to import uncertainty.output" in result.stdout

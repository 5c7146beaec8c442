"""The documentation site builds with warnings as errors (Sphinx, MyST, autodoc of the public API)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_api_reference_names_every_public_name():
    import uncertainty

    reference = (ROOT / "docs" / "api.md").read_text()
    missing = [n for n in uncertainty.__all__ if not re.search(rf"::\s+uncertainty\.{n}\s*$", reference, re.M)]
    assert uncertainty.__all__ and not missing, f"docs/api.md lacks {missing}"


@pytest.mark.slow
def test_the_docs_build_with_warnings_as_errors(tmp_path):
    """`sphinx-build -W` on docs/: every page in a toctree, every link and heading anchor within the site
    resolved, every docstring of the API reference valid."""
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-q", "-d", str(tmp_path / "doctrees")]
    result = subprocess.run(
        [*cmd, str(ROOT / "docs"), str(tmp_path / "html")], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, f"sphinx-build failed ({result.returncode}):\n{result.stderr}{result.stdout}"
    assert (tmp_path / "html" / "index.html").is_file()

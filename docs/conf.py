"""Sphinx configuration of the documentation site (MyST Markdown, the PyData theme, autodoc).

Build: ``python -m sphinx -b html docs docs/_build/html``; the test suite builds it with ``-W``
(tests/test_docs.py). Nothing is fetched at build time: no intersphinx, no remote images.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the package of this checkout, not another installed copy

import uncertainty  # noqa: E402

project = "uncertainty"
author = "the uncertainty maintainers"
copyright = "2026, the uncertainty maintainers"
version = release = uncertainty.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# MyST: `#anchor` links to headings down to level 3, $...$ maths, ::: fences
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath", "colon_fence"]

# autodoc: the public names of `uncertainty` (imported lazily, PEP 562), in source order
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autodoc_type_aliases = {"ArrayLike": "ArrayLike"}  # jax.typing.ArrayLike, not its expansion

html_theme = "pydata_sphinx_theme"
html_title = f"uncertainty {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "navbar_end": ["navbar-icon-links"],  # no theme switcher script fetching anything; no version switcher
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_static_path: list[str] = []
html_show_sourcelink = False

"""Sphinx configuration of the sklearn_autorec documentation site.

Build (from the repository root; warnings are errors)::

    python -m pip install -e ".[docs]"
    python -m sphinx -W --keep-going -b html docs docs/_build/html

The Markdown pages (``index.md`` is the user guide) are read by myst-parser
as they are; ``contents.rst`` is the root with the table of contents; the API
reference is generated from the numpydoc docstrings (autosummary stubs in
``gen_modules/``) and the gallery from ``examples/`` (sphinx-gallery, run at
build time, written to ``auto_examples/``). Generated folders are git-ignored.
"""

import os
import re
import sys
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the package, when it is not installed

import sklearn_autorec  # noqa: E402

project = "sklearn_autorec"
author = "sklearn_autorec developers"
copyright = "sklearn_autorec developers"
version = release = sklearn_autorec.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

root_doc = "contents"  # index.md is the user guide and keeps its name (index.html)
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "examples",  # gallery sources; sphinx-gallery renders them into auto_examples/
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.md5",
    "auto_examples/*.codeobj.json",
]

# -- Markdown pages (myst-parser) ---------------------------------------------
myst_heading_anchors = 3

# -- API reference (autodoc + autosummary + numpydoc) -------------------------
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"
numpydoc_show_class_members = False  # the class template lists the methods
numpydoc_class_members_toctree = False

# -- Gallery (sphinx-gallery) -------------------------------------------------
# The examples are tiny (seconds each on 2 CPU cores) and run offline.
os.environ.setdefault("OMP_NUM_THREADS", "1")
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "plot_gallery": "True",
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("sklearn_autorec",),
    "reference_url": {"sklearn_autorec": None},
    "download_all_examples": False,
    "write_computation_times": False,
    "abort_on_example_error": True,
    "matplotlib_animations": False,
    "remove_config_comments": True,
}
warnings.filterwarnings(
    "ignore", category=UserWarning,
    message="Matplotlib is currently using agg, which is a non-GUI backend",
)

# -- HTML ---------------------------------------------------------------------
html_theme = "alabaster"
html_static_path = ["_static"]
html_title = f"sklearn_autorec {release}"
html_theme_options = {
    "description": "AutoRec and matrix-factorization recommenders as scikit-learn estimators",
    "fixed_sidebar": True,
}
html_sidebars = {"**": ["about.html", "navigation.html", "searchbox.html"]}


# -- Pages that may not exist yet -----------------------------------------------
# paper.md links paper_results.md, which a full run of benchmarks/paper_table.py
# writes (until then the page does not exist, as paper.md says). Without it,
# that one link is shown as plain text instead of failing the -W build.
def _unlink_missing_paper_results(app, docname, source):
    if docname != "paper" or (HERE / "paper_results.md").exists():
        return
    source[0] = re.sub(r"\[([^\]]*)\]\(paper_results\.md\)", r"`\1`", source[0])


# -- Inherited scikit-learn plumbing ---------------------------------------------
# get_metadata_routing and the generated set_*_request methods come from
# scikit-learn's metadata routing; their docstrings cross-reference scikit-learn's
# own user guide, which does not exist here. They are not part of this API.
def _skip_metadata_routing(app, what, name, obj, skip, options):
    if name == "get_metadata_routing" or re.fullmatch(r"set_\w+_request", name):
        return True
    return None


def setup(app):
    app.connect("source-read", _unlink_missing_paper_results)
    app.connect("autodoc-skip-member", _skip_metadata_routing)

"""Sphinx configuration of the sklearn_autorec documentation site.

Build (from the repository root; warnings are errors)::

    python -m pip install -e ".[docs]"
    python -m sphinx -W --keep-going -n -b html docs docs/_build/html

The site uses the pydata-sphinx-theme (scikit-learn's, numpy's, pandas'), with a
top navigation by task: Getting started, User guide, Examples, API reference,
Benchmarks (the top-level toctree of ``index.rst``, the root document). The
Markdown pages are read by myst-parser as they are (``index.md`` is the rating
guide and keeps its name); the API reference is generated from the numpydoc
docstrings (autosummary stubs in ``gen_modules/``) and the gallery from
``examples/`` (sphinx-gallery, run at build time, written to
``auto_examples/``). Generated folders are git-ignored.

``-n`` (nitpicky) makes every cross-reference that does not resolve an error:
``:class:``/``:func:``/``:data:`` roles of the docstrings, ``{doc}``/Markdown
links between pages; it needs no network (there is no intersphinx).
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
# (no autodoc_default_options: the class template asks for the members itself,
# and a default "inherited-members" would make automodule document every member)
autodoc_typehints = "none"
numpydoc_show_class_members = False  # the class template lists the methods
numpydoc_class_members_toctree = False

# -- Cross-references (the -n build) ----------------------------------------------
# Every reference must resolve, except those to other projects: the build is
# offline, so there is no intersphinx inventory of scikit-learn, scipy, numpy,
# pandas, torch or joblib to resolve them against (they render as plain code).
nitpick_ignore_regex = [
    (r"py:.*", r"(sklearn|scipy|numpy|pandas|torch|joblib|distributed)(\..*)?"),
]

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
html_theme = "pydata_sphinx_theme"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_title = f"sklearn_autorec {release}"
# The page TOC lists a class's methods as "fit()", not "AutoRecRegressor.fit()".
toc_object_entries_show_parents = "hide"
html_short_title = "sklearn_autorec"
html_show_sourcelink = False
html_theme_options = {
    "logo": {"text": f"sklearn_autorec {release}"},
    "navbar_align": "left",
    "navbar_end": ["theme-switcher"],
    "header_links_before_dropdown": 6,
    "navigation_with_keys": False,
    "show_toc_level": 2,
    # The result pages are wide tables under one or two headings: no page TOC
    # there, so the tables get the width.
    "secondary_sidebar_items": {
        "**": ["page-toc"],
        "defaults_results": [],
        "topn_results": [],
        "sessions_results": [],
        "paper_results": [],
        "paper_results_quick": [],
    },
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    "search_bar_text": "Search the docs ...",
    "show_prev_next": False,
}
# No left sidebar where there is no section to navigate: the landing page (as
# scikit-learn's) and the pages without sub-pages at the top of the navigation.
html_sidebars = {"index": [], "getting_started": [], "api": [], "benchmarks": []}


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


# -- Every public name is in the API reference ------------------------------------
# A name added to a module's __all__ but not to api.rst fails the -W build.
API_MODULES = ("sklearn_autorec", "sklearn_autorec.metrics",
               "sklearn_autorec.model_selection", "sklearn_autorec.datasets")


def _check_api_reference(app):
    import importlib

    from sphinx.util import logging

    listed = set(re.findall(r"^ {3}(\w+)$|^\.\. autodata:: (\w+)$",
                            (HERE / "api.rst").read_text(), flags=re.M))
    listed = {a or b for a, b in listed}
    for modname in API_MODULES:
        module = importlib.import_module(modname)
        for name in getattr(module, "__all__", ()):
            if not name.startswith("_") and name not in listed:
                logging.getLogger(__name__).warning(
                    "%s.%s is public (in __all__) but not in docs/api.rst; add it "
                    "to the section of its task", modname, name)


def setup(app):
    app.connect("builder-inited", _check_api_reference)
    app.connect("source-read", _unlink_missing_paper_results)
    app.connect("autodoc-skip-member", _skip_metadata_routing)

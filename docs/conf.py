"""Sphinx configuration: ``python -m sphinx -W --keep-going -b html docs docs/_build/html``."""

import os
import shutil
import warnings
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import kernelsvm_keras  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

project = "kernelsvm_keras"
author = "The kernelsvm_keras developers"
copyright = "2026, the kernelsvm_keras developers"
release = version = kernelsvm_keras.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

autosummary_generate = True
numpydoc_show_class_members = False  # autosummary lists the methods
numpydoc_class_members_toctree = False

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    # only the plot_*.py examples belong to the gallery (and run); the others
    # are command-line scripts that read data from a path
    "ignore_pattern": r"(^|/)(?!plot_)[^/]+\.py$",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
}

exclude_patterns = ["_build", "benchmarks"]
templates_path = ["_templates"]
html_theme = "pydata_sphinx_theme"
html_title = f"kernelsvm_keras {release}"
html_theme_options = {"navigation_depth": 2, "show_toc_level": 2}
html_show_sourcelink = False

# matplotlib without a display, and Keras's progress bars off in the examples
os.environ.setdefault("MPLBACKEND", "agg")
warnings.filterwarnings("ignore", message="Matplotlib is currently using agg")


def _copy_figures(app):
    """The README's figures, where its image paths point from ``guide.rst``."""
    target = Path(app.srcdir) / "benchmarks" / "figures"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(ROOT / "benchmarks" / "figures", target)


def setup(app):
    app.connect("builder-inited", _copy_figures)

"""Sphinx configuration for primus-tx."""

from __future__ import annotations

import os
import sys

# Document the checkout being built, whether or not it is installed.
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from primus_tx._version import __version__

project = "primus-tx"
author = "the primus-tx developers"
copyright = "the primus-tx developers, MIT licence"
release = __version__
version = ".".join(__version__.split(".")[:2])

extensions = ["sphinx.ext.autodoc", "sphinx.ext.intersphinx"]
# No network at build time: cross-references to other projects' docs are
# plain text rather than links.
intersphinx_mapping: dict[str, tuple[str, None]] = {}
exclude_patterns = ["_build"]
html_theme = "alabaster"
autodoc_member_order = "bysource"
autodoc_typehints = "description"
nitpicky = False

"""The package version (one place: setup.cfg reads it, pickles record it)."""

__version__ = "0.1.0"

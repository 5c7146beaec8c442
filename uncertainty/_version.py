"""The package version (one place: the build reads it here, the package and its runs quote it)."""

__version__ = "0.1.0"

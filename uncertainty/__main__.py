"""``python -m uncertainty`` runs the command-line interface."""

from .cli import entry

entry()

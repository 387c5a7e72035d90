"""``python -m bsstream`` runs the CLI."""

from bsstream.cli import entry

entry()

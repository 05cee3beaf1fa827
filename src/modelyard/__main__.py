"""``python -m modelyard`` runs the CLI."""

from .cli import main

main()

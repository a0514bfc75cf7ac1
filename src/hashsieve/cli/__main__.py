"""``python -m hashsieve.cli``: the same as the ``hashsieve`` command."""

from hashsieve.cli import main

main()

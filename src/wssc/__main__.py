"""``python -m wssc``: the command line."""

from wssc.adapters.cli import main

main()

"""``python -m wssc.adapters.cli``: the command line, as ``python -m wssc``."""

from wssc.adapters.cli.commands import main

main()

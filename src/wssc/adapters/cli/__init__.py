"""Layer 6: the ``wssc`` command line, apart from the HTTP, zeep and Redis adapters.

What lives here: :mod:`~wssc.adapters.cli.commands` (the click group and the offline commands ``derive``,
``protect``, ``unprotect``, ``bench``), :mod:`~wssc.adapters.cli.serving` (``serve``, its worker processes) with
:mod:`~wssc.adapters.cli.serve_checks` (what it checks at start), :mod:`~wssc.adapters.cli.conversation` (what
``serve``, ``call`` and ``demo`` share), :mod:`~wssc.adapters.cli.call` (``call``, ``cancel``),
:mod:`~wssc.adapters.cli.policy` (``policy``), :mod:`~wssc.adapters.cli.demo` (``demo``) and
:mod:`~wssc.adapters.cli.bench` (the measurements behind ``bench``); for ``call``, ``cancel`` and ``policy``,
:mod:`~wssc.adapters.cli.failures` (a user's mistake or a service's fault as one or two lines),
:mod:`~wssc.adapters.cli.files` (certificates, keys, PKCS#12) and :mod:`~wssc.adapters.cli.session_file`
(``--save-session``/``--session``); :mod:`~wssc.adapters.cli.inspect` (``inspect``) and
:mod:`~wssc.adapters.cli.observe` (``-v`` and ``--trace``, given to the commands).  The console script ``wssc``
and ``python -m wssc`` run :func:`main`.

What it may import: every layer below (primitives, tokens, security, trust, conversation) and the other
adapters (HTTP app and client, key log, worker pool); nothing imports it but ``wssc.__main__``.
"""

from wssc.adapters.cli.commands import main

__all__ = ["main"]

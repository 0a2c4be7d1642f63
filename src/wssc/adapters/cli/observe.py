"""``-v``/``-vv`` and ``--trace DIR`` for the command line.

``-v`` shows the ``wssc`` logger's INFO records on stderr, ``-vv`` its DEBUG records; without it, warnings still
show (Python's last-resort handler).  It is accepted before the command (``wssc -v call ...``) and after it
(``wssc call -v ...``); the counts add up.  On a terminal the records go through rich's handler, piped they are
plain lines (the ``logging`` conventions: the handler is the application's, the records the library's).
``--trace DIR`` (``call``, ``serve``, ``demo``) sets ``WSSC_TRACE`` to DIR for the command being run: the message
trace (:mod:`wssc.adapters.trace`) goes there.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import Final

import click

from wssc.adapters.trace import ENVIRONMENT_VARIABLE, Tracer

#: the logger every module of the package logs under (``logging.getLogger(__name__)``)
LOGGER: Final = "wssc"
_VERBOSITY: Final = "wssc.verbosity"
_LEVELS: Final = (logging.WARNING, logging.INFO, logging.DEBUG)
_PLAIN_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: marks the handler this module installed (to replace it, and no other)
_MARK: Final = "_wssc_cli_handler"


def configure_logging(verbosity: int) -> None:
    """Route the ``wssc`` logger to stderr at the level ``verbosity`` (0, 1, 2+) asks for, replacing the handler
    an earlier call installed (commands run in process, as in tests, each get their own stderr)."""
    logger = logging.getLogger(LOGGER)
    for old in [h for h in logger.handlers if getattr(h, _MARK, False)]:
        logger.removeHandler(old)
    if verbosity <= 0:
        logger.setLevel(logging.NOTSET)
        return
    handler: logging.Handler
    if sys.stderr.isatty():
        from rich.console import Console
        from rich.logging import RichHandler

        handler = RichHandler(console=Console(stderr=True), show_path=False, log_time_format="%H:%M:%S")
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(_PLAIN_FORMAT, "%H:%M:%S"))
    logger.setLevel(_LEVELS[min(verbosity, len(_LEVELS) - 1)])
    setattr(handler, _MARK, True)
    logger.addHandler(handler)


def current_verbosity() -> int:
    """The ``-v`` count the ``wssc`` logger is set up for (0, 1, 2), to hand to processes started from here."""
    level = logging.getLogger(LOGGER).level
    return 2 if 0 < level <= logging.DEBUG else 1 if 0 < level <= logging.INFO else 0


def _count(ctx: click.Context, param: click.Parameter, value: int) -> None:
    root = ctx.find_root()
    total = root.meta.get(_VERBOSITY, 0) + (value or 0)
    root.meta[_VERBOSITY] = total
    if ctx is root:
        ctx.call_on_close(lambda: configure_logging(0))  # the handler writes to this command's stderr only
    if ctx is root or value:
        configure_logging(total)


def verbose_option() -> click.Option:
    """The ``-v`` option, for the group and for each command."""
    return click.Option(
        ["-v", "--verbose"],
        count=True,
        expose_value=False,
        is_eager=True,
        callback=_count,
        help="log what happens on stderr (-v: each request and step, -vv: details)",
    )


def _trace(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is None:
        return
    try:
        Tracer(value)  # create it (mode 0700) now, so a path that cannot be a directory is a usage error
    except OSError as error:
        raise click.BadParameter(f"{value}: {error.strerror or error}", param_hint="--trace") from None
    # the environment, not a global: the worker processes ``serve --workers`` starts inherit it
    previous = os.environ.get(ENVIRONMENT_VARIABLE)
    os.environ[ENVIRONMENT_VARIABLE] = value
    ctx.call_on_close(lambda: _restore(previous))


def _restore(previous: str | None) -> None:
    if previous is None:
        os.environ.pop(ENVIRONMENT_VARIABLE, None)
    else:
        os.environ[ENVIRONMENT_VARIABLE] = previous


def trace_option() -> click.Option:
    """The ``--trace DIR`` option (``call``, ``serve``, ``demo``)."""
    return click.Option(
        ["--trace", "trace_directory"],
        metavar="DIR",
        default=None,
        expose_value=False,
        is_eager=True,
        callback=_trace,
        help="write every message, and its decrypted view, to DIR (contains secrets; also WSSC_TRACE)",
    )


def add_options(commands: Mapping[str, click.Command], traced: tuple[str, ...]) -> None:
    """Give every command ``-v``, and the ``traced`` ones ``--trace``."""
    for name, command in commands.items():
        command.params.append(verbose_option())
        if name in traced:
            command.params.append(trace_option())


def service_tracer(subdirectory: str | None = None) -> Tracer | None:
    """The tracer for a service the running command starts (``--trace`` or ``WSSC_TRACE``), in ``subdirectory``
    of it when a client of the same command traces into the directory itself (``wssc demo``)."""
    tracer = Tracer.from_environment()
    if tracer is None or subdirectory is None:
        return tracer
    return Tracer(tracer.directory / subdirectory)

"""Deprecated alias of :mod:`wssc.adapters.cli.bench` (moved in issue 8); removed in the next release."""

import warnings

from wssc.adapters.cli.bench import (
    measure,
    render,
    run,
    sample_envelope,
)

__all__ = ["measure", "render", "run", "sample_envelope"]

warnings.warn("wssc.adapters.bench moved to wssc.adapters.cli.bench", DeprecationWarning, stacklevel=2)

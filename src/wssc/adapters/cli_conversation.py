"""Deprecated alias of :mod:`wssc.adapters.cli.conversation` (moved in issue 8); removed in the next release."""

import warnings

from wssc.adapters.cli.call import call, cancel
from wssc.adapters.cli.conversation import (
    BOOTSTRAPS,
    DEMO_ACTION,
    DEMO_PAYLOAD,
    DEMO_WSDL,
    SERVE_SUITES,
    build_app,
    development_certificate,
    seal_from_environment,
)
from wssc.adapters.cli.files import load_certificate, load_private_key
from wssc.adapters.cli.serve_checks import read_users
from wssc.adapters.cli.serving import serve

__all__ = [
    "BOOTSTRAPS",
    "DEMO_ACTION",
    "DEMO_PAYLOAD",
    "DEMO_WSDL",
    "SERVE_SUITES",
    "build_app",
    "call",
    "cancel",
    "development_certificate",
    "load_certificate",
    "load_private_key",
    "read_users",
    "seal_from_environment",
    "serve",
]

warnings.warn(
    "wssc.adapters.cli_conversation moved to wssc.adapters.cli.conversation", DeprecationWarning, stacklevel=2
)

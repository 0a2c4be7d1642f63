"""pytest wiring for the Mono WCF interoperability tests.

Session fixtures: the compiled ``MonoEcho.exe`` (skipped when Mono is missing, a failure under CI), one
Mono echo service, one wssc HTTP server with the wssc services the tests talk to, and the service
certificate both sides use.  The ``interop`` marker comes from ``tests/interop/conftest.py``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:  # works with every pytest --import-mode
    sys.path.insert(0, str(_HERE))

from mono_wcf import (  # noqa: E402
    COMPAT_PATH,
    MONO_COMPATIBLE_POLICY,
    STRICT_PATH,
    MonoService,
    Recorder,
    ServiceCertificate,
    WsscServer,
    build,
    missing_prerequisites,
    write_certificate,
    wssc_service,
)

from wssc.adapters.asgi import WsscApp, echo_handler  # noqa: E402
from wssc.tokens.x509 import self_signed  # noqa: E402

#: the ignored build folder of tests/interop (see .gitignore)
BUILD_DIR = _HERE.parent / ".build" / "mono"


@pytest.fixture(scope="session")
def mono_exe() -> Path:
    missing = missing_prerequisites()
    if missing:
        message = "Mono WCF interop prerequisites missing: " + "; ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return build(BUILD_DIR)


@pytest.fixture(scope="session")
def service_cert(tmp_path_factory: pytest.TempPathFactory) -> ServiceCertificate:
    certificate, key = self_signed("wssc-mono-interop")
    return write_certificate(certificate, key, tmp_path_factory.mktemp("mono-cert"))


@pytest.fixture(scope="session")
def mono_service(
    mono_exe: Path, service_cert: ServiceCertificate, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MonoService]:
    service = MonoService(mono_exe, service_cert, tmp_path_factory.mktemp("mono-service") / "service.log")
    try:
        yield service
    finally:
        service.close()


@pytest.fixture(scope="session")
def wssc_server(service_cert: ServiceCertificate) -> Iterator[WsscServer]:
    recorder = Recorder(
        {
            COMPAT_PATH: WsscApp(wssc_service(service_cert, MONO_COMPATIBLE_POLICY), default=echo_handler),
            STRICT_PATH: WsscApp(wssc_service(service_cert), default=echo_handler),
        }
    )
    server = WsscServer(recorder)
    try:
        yield server
    finally:
        server.close()

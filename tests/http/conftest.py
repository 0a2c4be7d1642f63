"""Fixtures for tests over real HTTP on loopback: an in-process uvicorn server, and `wssc serve` subprocesses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from http_support import LiveServer, ServeProcess
from wssc.adapters.asgi import WsscApp, echo_handler
from wssc.conversation.bootstrap import ServiceCredentials
from wssc.conversation.service import SecureConversationService, ServiceSettings
from wssc.tokens.x509 import self_signed


@pytest.fixture(scope="session")
def service_keypair():  # type: ignore[no-untyped-def]
    return self_signed("wssc http test service")


@pytest.fixture
def live_app(service_keypair):  # type: ignore[no-untyped-def]
    cert, key = service_keypair

    def make(**settings: object) -> LiveServer:
        service = SecureConversationService(ServiceCredentials(cert, key), settings=ServiceSettings(**settings))  # type: ignore[arg-type]
        return LiveServer(WsscApp(service, default=echo_handler, path="/echo"))

    return make


@pytest.fixture
def serve_process(tmp_path: Path) -> Iterator[ServeProcess]:
    proc = ServeProcess(tmp_path)
    try:
        yield proc
    finally:
        proc.stop()


def pem(cert: object) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)  # type: ignore[attr-defined,no-any-return]

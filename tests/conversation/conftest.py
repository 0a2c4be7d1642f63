"""Fixtures of the conversation-layer tests: credentials made once per run, a World per (WS-SC, SOAP) pair."""

from __future__ import annotations

import pytest
from conversation_support import COMBOS, World, make_world
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from wssc.conversation.bootstrap import ServiceCredentials
from wssc.tokens.x509 import self_signed

USERS = {"alice": "correct horse battery staple", "bob": "hunter2"}


@pytest.fixture(scope="session")
def service_key_pair() -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    return self_signed("wssc test service")


@pytest.fixture(scope="session")
def amender() -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """The new credential an Amend adds (its X.509 subject becomes a claim)."""
    return self_signed("amending client")


@pytest.fixture(scope="session")
def stranger() -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    return self_signed("someone else")


@pytest.fixture(scope="session")
def credentials(service_key_pair: tuple[x509.Certificate, rsa.RSAPrivateKey]) -> ServiceCredentials:
    return ServiceCredentials(*service_key_pair)


@pytest.fixture(scope="session")
def user_credentials(service_key_pair: tuple[x509.Certificate, rsa.RSAPrivateKey]) -> ServiceCredentials:
    return ServiceCredentials(*service_key_pair, users=USERS)


@pytest.fixture(params=COMBOS)
def world(request: pytest.FixtureRequest, credentials: ServiceCredentials) -> World:
    version, soap = request.param
    return make_world(version, soap, credentials)

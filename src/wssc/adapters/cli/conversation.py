"""What ``wssc serve``, ``wssc call``, ``wssc cancel`` and ``wssc demo`` share: the demo echo service (its WSDL,
action and payload, :func:`build_app`), the development certificate, the farm's sealing key, PEM files.  The
``serve`` command itself is :mod:`wssc.adapters.cli.serving`."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import click
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from wssc import versions
from wssc.adapters.asgi import WsscApp, echo_handler
from wssc.adapters.cli.files import load_certificate, load_private_key
from wssc.adapters.cli.negotiate import NEGOTIATIONS
from wssc.adapters.cli.observe import service_tracer
from wssc.adapters.cli.serve_checks import SEAL_KEY_RECIPE
from wssc.adapters.keylog import KeyLog
from wssc.adapters.throttle import WorkerPool
from wssc.adapters.trace import Tracer
from wssc.conversation.bootstrap import (
    ANONYMOUS_FOR_CERTIFICATE,
    BOOTSTRAP_NAMES,
    ServiceCredentials,
)
from wssc.conversation.negotiation import Negotiator
from wssc.conversation.sealing import ContextSeal
from wssc.conversation.service import SecureConversationService, ServiceSettings
from wssc.conversation.store import ContextStore
from wssc.primitives.algorithms import BASIC256, AlgorithmSuite
from wssc.security.policy import ProtectionPolicy
from wssc.security.replay import ReplayCache
from wssc.tokens.x509 import self_signed

DEMO_ACTION = "urn:wssc:demo:echo"
DEMO_PAYLOAD = b'<echo xmlns="urn:wssc:demo">hello from wssc</echo>'
#: the demo service's contract, published at ``/echo?wsdl`` with the security policy (zeep reads it)
DEMO_WSDL = b"""<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/"
 xmlns:tns="urn:wssc:demo" xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:wssc:demo">
 <types><xs:schema targetNamespace="urn:wssc:demo" elementFormDefault="qualified">
  <xs:element name="echo" type="xs:string"/></xs:schema></types>
 <message name="EchoMessage"><part name="parameters" element="tns:echo"/></message>
 <portType name="Echo"><operation name="Echo"><input message="tns:EchoMessage"/><output message="tns:EchoMessage"/>
 </operation></portType>
 <binding name="EchoBinding" type="tns:Echo"><soap12:binding transport="http://schemas.xmlsoap.org/soap/http"/>
  <operation name="Echo"><soap12:operation soapAction="urn:wssc:demo:echo" style="document"/>
   <input><soap12:body use="literal"/></input><output><soap12:body use="literal"/></output></operation></binding>
 <service name="EchoService"><port name="Echo" binding="tns:EchoBinding"><soap12:address location="http://localhost/echo"/>
 </port></service>
</definitions>"""
BOOTSTRAPS = [*BOOTSTRAP_NAMES, *NEGOTIATIONS]
#: the suites ``wssc serve --suite`` publishes and demands (WS-SP 1.2 section 6.1)
SERVE_SUITES = ["Basic256", "Basic128", "Basic256Sha256", "Basic128Sha256", "Basic256Rsa15", "Basic128Rsa15"]


def development_certificate(directory: Path) -> tuple[x509.Certificate, rsa.RSAPrivateKey, Path]:
    """Generate (once) a self-signed service certificate under ``directory``."""
    cert_path, key_path = directory / "service-cert.pem", directory / "service-key.pem"
    if cert_path.exists() and key_path.exists():
        return load_certificate(str(cert_path)), load_private_key(str(key_path)), cert_path
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = self_signed("wssc development service")
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert, key, cert_path


def build_app(
    credentials: ServiceCredentials,
    version: versions.SCVersion,
    keylog: KeyLog | None = None,
    redis_url: str | None = None,
    stateless: bool = False,
    bootstrap: str = ANONYMOUS_FOR_CERTIFICATE,
    suite: AlgorithmSuite = BASIC256,
    pool: WorkerPool | None = None,
    negotiator: Negotiator | None = None,
    trace: Tracer | None = None,
) -> WsscApp:
    """The demo echo service: any SOAP 1.1/1.2 message, with or without WS-Addressing, whose Body and
    Timestamp are signed and whose Body is encrypted under a context (WS-A headers need not be signed, and
    the published policy says so).  ``bootstrap`` and ``suite`` are published at ``/echo?wsdl`` and demanded
    of every request.  With ``redis_url`` its contexts and replay cache live in Redis, shared with the other
    nodes; ``stateless`` contexts live in their own SCTs, sealed with the farm's key; ``pool`` bounds the
    requests it works on; ``negotiator`` negotiates contexts (SPNEGO, TLSNEGO), whose messages, application ones
    included, the service then accepts too; ``trace`` (default: ``--trace``/``WSSC_TRACE``) traces its messages."""
    seal = seal_from_environment() if stateless else None
    settings = ServiceSettings(
        version=version,
        policy=ProtectionPolicy(suite=suite),
        bootstrap=bootstrap,
        unsigned_addressing=True,
        stateless=seal,
        accept_bootstrap_messages=negotiator is not None,
    )
    store: ContextStore | None = None
    replays: ReplayCache | None = None
    if redis_url is not None:
        try:
            from wssc.adapters.redis_store import farm_store
        except ImportError:
            raise click.UsageError("--redis needs redis-py: pip install 'wssc[redis]'") from None

        store, replays = farm_store(redis_url, seal_from_environment())
    service = SecureConversationService(
        credentials, store, settings, on_new_key=keylog, replay_cache=replays, negotiator=negotiator
    )
    trace = trace or service_tracer()
    return WsscApp(service, default=echo_handler, path="/echo", wsdl=DEMO_WSDL, pool=pool, trace=trace)


def seal_from_environment() -> ContextSeal:
    """The farm's sealing key: ``WSSC_SEAL_KEY`` (32 bytes, base64), older keys in ``WSSC_SEAL_KEYS_PREVIOUS``
    (comma-separated) while contexts sealed under them may still be live."""
    try:
        key = base64.b64decode(os.environ["WSSC_SEAL_KEY"], validate=True)
        older = [
            base64.b64decode(k, validate=True) for k in os.environ.get("WSSC_SEAL_KEYS_PREVIOUS", "").split(",") if k
        ]
        return ContextSeal(key, previous_keys=older)
    except KeyError:
        raise click.UsageError(
            f"--redis and --stateless need WSSC_SEAL_KEY: 32 random bytes (base64), the same on every node;\n"
            f"make one with: {SEAL_KEY_RECIPE}"
        ) from None
    except ValueError as exc:  # binascii.Error is one; ContextSeal refuses a key of another length
        raise click.ClickException(
            f"WSSC_SEAL_KEY (or WSSC_SEAL_KEYS_PREVIOUS) is not 32 bytes in base64 ({exc});\n"
            f"make one with: {SEAL_KEY_RECIPE}"
        ) from None

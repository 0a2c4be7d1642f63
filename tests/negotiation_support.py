"""Helpers of the negotiation tests: drive a client flow against a service in process, call under a context."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree

from wssc.adapters.http_client import WsscClient, _flow_call
from wssc.conversation.client import ClientSession
from wssc.conversation.client_settings import ClientSettings
from wssc.conversation.context import SecurityContext
from wssc.conversation.negotiating import NegotiatedBootstrap
from wssc.conversation.service import ApplicationRequest, SecureConversationService
from wssc.primitives.xml import parse
from wssc.security.soap import SOAPVersion
from wssc.tokens.sct import SecurityContextToken
from wssc.versions import SCVersion

ECHO_NS = "urn:example:echo"
ECHO_ACTION = ECHO_NS + ":echo"
ADDRESS = "http://localhost/negotiated"


def echo_body(text: str) -> bytes:
    return f'<e:echo xmlns:e="{ECHO_NS}"><e:text>{text}</e:text></e:echo>'.encode()


def pump(flow: Generator[tuple[bytes, str], bytes, Any], service: SecureConversationService, log: list[Any]) -> Any:
    """Drive a client flow against the service in process; application requests are echoed."""
    try:
        request, _ = next(flow)
        while True:
            event = service.receive(request)
            log.append(event)
            if isinstance(event, ApplicationRequest):
                answer = service.respond(event, event.message.payload())
            else:
                answer = event.reply.data
            request, _ = flow.send(answer)
    except StopIteration as done:
        return done.value


def negotiated(context: SecurityContext) -> NegotiatedBootstrap:
    """A bootstrap that already holds ``context`` (negotiated elsewhere, by the independent driver) and never
    negotiates itself."""
    bootstrap = NegotiatedBootstrap(lambda: None)  # type: ignore[arg-type, return-value]
    bootstrap.accept(context)
    return bootstrap


def driver_context(result: Any, version: SCVersion) -> SecurityContext:
    """The client's view of a context the independent driver's client negotiated (its DriverResult)."""
    token = SecurityContextToken.from_element(parse(result.sct_element_bytes))
    created, expires = result.lifetime
    return SecurityContext(result.identifier, result.key, created, expires, version, None, (), (), token)


def echo_call(service: SecureConversationService, context: SecurityContext, soap: SOAPVersion, text: str) -> str:
    """One application message under a negotiated ``context`` (WCF establishSecurityContext=false); the echo."""
    settings = ClientSettings(version=context.version, soap=soap, establish_security_context=False)
    session = ClientSession(negotiated(context), ADDRESS, settings, clock=service.clock)
    reply = pump(_flow_call(session, echo_body(text), ECHO_ACTION), service, [])
    return etree.tostring(reply.payload()[0]).decode()


def http_echo_call(url: str, context: SecurityContext, soap: SOAPVersion, text: str) -> str:
    """The same over HTTP: the echoed text."""
    bootstrap = negotiated(context)
    with WsscClient(url, bootstrap, version=context.version, soap=soap, establish_security_context=False) as client:
        return "".join(client.call(etree.fromstring(echo_body(text)), ECHO_ACTION).body.itertext())


@dataclass(frozen=True)
class Ran:
    """What a ``wssc`` command did: as ``subprocess.CompletedProcess`` says it."""

    returncode: int
    stdout: str
    stderr: str


def wssc(*args: str, env: Mapping[str, str] | None = None, subprocess_: bool = False) -> Ran:
    """Run ``wssc ARGS``: in process through click's CliRunner (the same command, without an interpreter's start),
    or with ``subprocess_`` the installed console script."""
    if subprocess_:
        done = subprocess.run(
            [sys.executable, "-m", "wssc", *args],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **(env or {})},
        )
        return Ran(done.returncode, done.stdout, done.stderr)
    from click.testing import CliRunner

    from wssc.adapters.cli import main

    result = CliRunner().invoke(main, list(args), env=dict(env or {}), catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)

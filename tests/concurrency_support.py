"""A stress run of the context lifecycle from many threads, and the checker that judges every answer.

Worker threads share a few context *slots*.  Each step takes one slot and does one operation on its
context — an application call, Renew, Amend, Validate or Cancel — through a fresh :class:`ClientSession`
holding either the newest client-side snapshot of the context or (a quarter of the time) the last snapshot
this thread used, which may be superseded or cancelled by then.  A Cancel that wins refills its slot with a
newly established context.  Every exchange is recorded in a :class:`Ledger` with its start and end time
(the service's own clock: the wall clock) and its outcome; a refusal other than the faults the race allows
(:data:`ALLOWED_REFUSALS`), a reply that does not verify or echo what was sent, an exception and an ERROR
logged by ``wssc`` are violations at once; :mod:`concurrency_judge` checks the whole history afterwards.

The service side is a :class:`Node`: the sans-I/O service in process, or ``wssc serve`` over HTTP.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from wssc.conversation.bootstrap import ClientBootstrap
from wssc.conversation.client import (
    Amended,
    Cancelled,
    ClientSession,
    Established,
    Renewed,
    Response,
    Validated,
)
from wssc.conversation.client_settings import ClientSettings
from wssc.conversation.context import SecurityContext
from wssc.conversation.service import ApplicationRequest, SecureConversationService
from wssc.errors import BadContextToken, InvalidRequest, UnableToRenew, WsscError
from wssc.security.soap import SOAP11, SOAP12, SOAPVersion
from wssc.versions import SC_1_3, SC_2005_02, SCVersion

ADDRESS = "http://localhost/echo"
ECHO_NS = "urn:example:echo"
ECHO_ACTION = ECHO_NS + ":echo"
COMBOS: tuple[tuple[SCVersion, SOAPVersion], ...] = (
    (SC_1_3, SOAP12),
    (SC_1_3, SOAP11),
    (SC_2005_02, SOAP12),
    (SC_2005_02, SOAP11),
)
#: The faults an operation may get when it loses a race (superseded instance, cancelled context, a
#: compare-and-set lost to a concurrent Renew or Amend).  Anything else is a violation.
ALLOWED_REFUSALS: dict[str, tuple[type[WsscError], ...]] = {
    "call": (BadContextToken,),
    "renew": (BadContextToken, UnableToRenew),
    "amend": (BadContextToken, InvalidRequest),
    "cancel": (BadContextToken,),
    "validate": (),
    "establish": (),
}
#: operation mix per step
WEIGHTS = {"call": 60, "renew": 14, "amend": 8, "validate": 8, "cancel": 4}


def now() -> datetime:
    return datetime.now(timezone.utc)


def echo_body(text: str) -> bytes:
    return f'<e:echo xmlns:e="{ECHO_NS}"><e:text>{text}</e:text></e:echo>'.encode()


class Node(Protocol):
    """One service node as a client sees it: request bytes in, reply bytes out."""

    def exchange(self, data: bytes, action: str, soap: SOAPVersion) -> bytes: ...


class InProcessNode:
    """The sans-I/O service; application requests are echoed by :meth:`SecureConversationService.respond`,
    whose typed errors become faults as in the adapters (:mod:`wssc.adapters.asgi`): the instance a request
    used may leave its rollover window before the answer is protected."""

    def __init__(self, service: SecureConversationService) -> None:
        self.service = service

    def exchange(self, data: bytes, action: str, soap: SOAPVersion) -> bytes:
        event = self.service.receive(data)
        if isinstance(event, ApplicationRequest):
            if event.context is None:
                raise AssertionError("an application request without a context was accepted")
            try:
                return self.service.respond(event, event.message.payload())
            except WsscError as error:
                return self.service.fault(error, event.message.soap).reply.data
        return event.reply.data


@dataclasses.dataclass
class Op:
    """One exchange as the client saw it."""

    kind: str
    identifier: str
    instance: str | None
    start: datetime
    end: datetime
    #: "ok", or the name of the error the client raised
    outcome: str
    #: what a successful Establish, Renew or Amend gave the client
    result: SecurityContext | None = None
    claim: str | None = None
    valid: bool | None = None
    detail: str = ""


class Ledger:
    def __init__(self) -> None:
        self.ops: list[Op] = []
        self.violations: list[str] = []
        self._lock = threading.Lock()

    def record(self, op: Op) -> None:
        with self._lock:
            self.ops.append(op)

    def violation(self, text: str) -> None:
        with self._lock:
            self.violations.append(text)


class ErrorLogWatch(logging.Handler):
    """Fails the run on any ERROR record of the ``wssc`` logger: the service logs there the unexpected
    exceptions it turns into "internal error" faults, which are bugs."""

    def __init__(self, ledger: Ledger) -> None:
        super().__init__(logging.ERROR)
        self.ledger = ledger

    def emit(self, record: logging.LogRecord) -> None:
        self.ledger.violation(f"internal error logged: {record.getMessage()} {record.exc_text or ''}")


@contextmanager
def watching_errors(ledger: Ledger) -> Iterator[None]:
    handler = ErrorLogWatch(ledger)
    logger = logging.getLogger("wssc")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


@dataclasses.dataclass
class Slot:
    """A context several threads share: the newest client-side snapshot anyone published."""

    latest: SecurityContext
    version: SCVersion
    soap: SOAPVersion
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)


@dataclasses.dataclass
class Stress:
    """The shared state of one run."""

    nodes: Callable[[], list[Node]]
    certificate: x509.Certificate
    amenders: list[tuple[x509.Certificate, rsa.RSAPrivateKey]]
    ledger: Ledger = dataclasses.field(default_factory=Ledger)
    slots: list[Slot] = dataclasses.field(default_factory=list)

    def session(self, version: SCVersion, soap: SOAPVersion, context: SecurityContext | None) -> ClientSession:
        session = ClientSession(
            ClientBootstrap(self.certificate), ADDRESS, ClientSettings(version=version, soap=soap), clock=now
        )
        session.context = context
        return session

    def establish(self, node: Node, version: SCVersion, soap: SOAPVersion) -> SecurityContext:
        session = self.session(version, soap, None)
        start = now()
        event = session.receive(node.exchange(session.establish(), session.last_action, soap))
        assert isinstance(event, Established), event
        self.ledger.record(Op("establish", event.context.identifier, None, start, now(), "ok", event.context))
        return event.context


def run(stress: Stress, *, threads: int, contexts: int, seconds: float, seed: int) -> Ledger:
    """Drive ``threads`` workers over ``contexts`` slots for ``seconds``; returns the ledger (unjudged)."""
    setup = stress.nodes()
    for i in range(contexts):
        version, soap = COMBOS[i % len(COMBOS)]
        stress.slots.append(Slot(stress.establish(setup[i % len(setup)], version, soap), version, soap))
    deadline = time.monotonic() + seconds
    workers = [
        threading.Thread(target=_worker, args=(stress, random.Random(seed * 1000 + i), deadline), daemon=True)
        for i in range(threads)
    ]
    with watching_errors(stress.ledger):
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(seconds + 120)
    assert not any(w.is_alive() for w in workers), "a worker hung"
    return stress.ledger


def _worker(stress: Stress, rng: random.Random, deadline: float) -> None:
    nodes = stress.nodes()
    mine: dict[int, SecurityContext] = {}
    kinds, weights = list(WEIGHTS), list(WEIGHTS.values())
    while time.monotonic() < deadline:
        index = rng.randrange(len(stress.slots))
        slot = stress.slots[index]
        with slot.lock:
            snapshot = slot.latest
        if index in mine and rng.random() < 0.25:
            snapshot = mine[index]  # possibly superseded or cancelled by now
        mine[index] = snapshot
        kind = rng.choices(kinds, weights)[0]
        try:
            _step(stress, rng.choice(nodes), slot, snapshot, kind, rng)
        except Exception as error:  # the checker must see every failure, not lose a thread
            stress.ledger.violation(f"{kind}: unexpected {type(error).__name__}: {error}")


def _step(stress: Stress, node: Node, slot: Slot, snapshot: SecurityContext, kind: str, rng: random.Random) -> None:
    session = stress.session(slot.version, slot.soap, snapshot)
    claim = None
    if kind == "call":
        text = uuid.uuid4().hex
        request = session.request(echo_body(text), ECHO_ACTION)
    elif kind == "renew":
        request = session.renew()
    elif kind == "amend":
        certificate, private_key = rng.choice(stress.amenders)
        claim = certificate.subject.rfc4514_string()
        request = session.amend(certificate, private_key)
    elif kind == "validate":
        request = session.validate()
    else:
        request = session.cancel()
    start = now()
    reply = node.exchange(request, session.last_action, slot.soap)
    end = now()
    op = Op(kind, snapshot.identifier, snapshot.instance, start, end, "ok", claim=claim)
    try:
        event = session.receive(reply)
    except WsscError as error:
        op.outcome = type(error).__name__
        op.detail = str(error)
        stress.ledger.record(op)
        if not isinstance(error, ALLOWED_REFUSALS[kind]):
            stress.ledger.violation(f"{kind} refused with {error!r}")
        return
    if kind == "call":
        assert isinstance(event, Response)
        echoed = "".join(event.message.body.itertext()).strip()
        if echoed != text:
            stress.ledger.violation(f"call echoed {echoed!r} instead of {text!r}")
    elif isinstance(event, (Renewed, Amended)):
        op.result = event.context
        _publish(slot, snapshot, event.context)
    elif isinstance(event, Validated):
        op.valid = event.valid
    else:
        assert isinstance(event, Cancelled)
        with slot.lock:
            refill = slot.latest.identifier == snapshot.identifier
        if refill:  # the first Cancel to come back refills the slot
            fresh = stress.establish(node, slot.version, slot.soap)
            with slot.lock:
                slot.latest = fresh
    stress.ledger.record(op)


def _publish(slot: Slot, source: SecurityContext, result: SecurityContext) -> None:
    """Make ``result`` the slot's newest snapshot when it follows the newest one (publications of a Renew
    and an Amend may arrive in either order)."""
    with slot.lock:
        latest = slot.latest
        if latest.identifier != result.identifier:
            return
        if result.instance != latest.instance and latest.instance == source.instance:
            slot.latest = result  # a renewal of the newest instance
        elif result.instance == latest.instance:
            merged = latest.claims + tuple(c for c in result.claims if c not in latest.claims)
            slot.latest = dataclasses.replace(latest, claims=merged)

"""Property: random byte mutations of valid requests never make ``SecureConversationService.receive`` raise;
the answer is a FaultReply (a well-formed SOAP fault naming the error's code) or a valid event.  The same
for the client: a mutated response gives an event or a typed WsscError, nothing else."""

from __future__ import annotations

import contextlib
import functools
import logging
from dataclasses import dataclass

from conversation_support import COMBOS, World, echo_body, make_world
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from wssc.conversation.bootstrap import ServiceCredentials
from wssc.conversation.client import ClientSession
from wssc.conversation.service import ApplicationRequest, FaultReply, TokenReply
from wssc.errors import RequestFailed, WsscError
from wssc.primitives.xml import parse
from wssc.security.faults import read_fault
from wssc.security.soap import soap_version_of
from wssc.tokens.x509 import self_signed
from wssc.trust.elements import RequestType

ACTION = "urn:e:x"


class _Recorder(logging.Handler):
    """Counts what the service logs as an unexpected error: its catch-all turns an internal bug into a
    wst:RequestFailed fault, which must not hide the bug from this test."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


INTERNAL_ERRORS = _Recorder()
logging.getLogger("wssc.conversation.service").addHandler(INTERNAL_ERRORS)


@dataclass
class Corpus:
    worlds: list[World]
    #: (world index, what, bytes) of valid requests never sent
    requests: list[tuple[int, str, bytes]]
    #: (world index, valid response bytes, a session that can wait for a response)
    responses: list[tuple[int, bytes, ClientSession]]


def _abandon(world: World, session: ClientSession) -> None:
    """Close the exchange a built-but-unsent request left open, by feeding the session a fault."""
    reply = world.service.receive(b"<not-a-request/>")
    assert isinstance(reply, FaultReply)
    with contextlib.suppress(WsscError):
        session.receive(reply.reply.data)


@functools.lru_cache(maxsize=1)
def corpus() -> Corpus:
    """Valid requests of every kind, in every version pair, built once (Hypothesis forbids function fixtures)."""
    cert, key = self_signed("fuzz service")
    amend_cert = self_signed("fuzz amender")
    credentials = ServiceCredentials(cert, key, users={"alice": "pw"})
    worlds: list[World] = []
    requests: list[tuple[int, str, bytes]] = []
    responses: list[tuple[int, bytes, ClientSession]] = []
    for index, combo in enumerate(COMBOS):
        version, soap = combo.values[0]  # type: ignore[misc]
        world = make_world(version, soap, credentials)
        worlds.append(world)
        session = world.establish(username="alice", password="pw")
        fresh = world.session(username="alice", password="pw")
        requests.append((index, "establish", fresh.establish()))
        for what, build in (
            ("application", lambda s: s.request(echo_body("fuzz"), ACTION)),
            ("renew", ClientSession.renew),
            ("amend", lambda s: s.amend(*amend_cert)),
            ("validate", ClientSession.validate),
            ("cancel", ClientSession.cancel),
        ):
            requests.append((index, what, build(session)))
            _abandon(world, session)

        request = world.service.receive(session.request(echo_body("answer me"), ACTION))
        assert isinstance(request, ApplicationRequest)
        responses.append((index, world.service.respond(request, request.message.payload()[0]), session))
        session.receive(responses[-1][1])
    return Corpus(worlds, requests, responses)


_ALNUM = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
#: keeps the XML well-formed most of the time: one letter or digit (base64, text, names) becomes another
_WELL_FORMED = st.tuples(st.just("alnum"), st.integers(0, 1 << 20), st.sampled_from(list(_ALNUM)))

MUTATION = st.one_of(
    _WELL_FORMED,
    _WELL_FORMED,
    _WELL_FORMED,
    st.tuples(st.just("set"), st.integers(0, 1 << 20), st.integers(0, 255)),
    st.tuples(st.just("flip"), st.integers(0, 1 << 20), st.sampled_from([1, 2, 4, 8, 16, 32, 64, 128])),
    st.tuples(st.just("delete"), st.integers(0, 1 << 20), st.integers(1, 64)),
    st.tuples(st.just("insert"), st.integers(0, 1 << 20), st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("markup"), st.integers(0, 1 << 20), st.sampled_from([b"<", b">", b"/", b'"', b"=", b"&"])),
    st.tuples(st.just("duplicate"), st.integers(0, 1 << 20), st.integers(1, 200)),
)


def mutate(data: bytes, mutations: list[tuple[str, int, object]]) -> bytes:
    out = bytearray(data)
    for kind, position, arg in mutations:
        if not out:
            break
        at = position % len(out)
        if kind == "alnum":
            while at < len(out) and out[at] not in _ALNUM:
                at += 1
            if at < len(out):
                out[at] = arg if out[at] != arg else _ALNUM[(_ALNUM.index(arg) + 1) % len(_ALNUM)]  # type: ignore[assignment,arg-type]
        elif kind == "set":
            out[at] = arg  # type: ignore[assignment]
        elif kind == "flip":
            out[at] ^= arg  # type: ignore[operator]
        elif kind == "delete":
            del out[at : at + arg]  # type: ignore[operator]
        elif kind in ("insert", "markup"):
            out[at:at] = arg  # type: ignore[assignment]
        else:
            out[at:at] = out[at : at + arg]  # type: ignore[operator]
    return bytes(out)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=False)
@given(choice=st.integers(0, 1 << 16), mutations=st.lists(MUTATION, min_size=1, max_size=4))
def test_mutated_requests_never_raise(choice: int, mutations: list[tuple[str, int, object]]) -> None:
    c = corpus()
    index, what, original = c.requests[choice % len(c.requests)]
    world = c.worlds[index]
    data = mutate(original, mutations)
    logged = len(INTERNAL_ERRORS.records)
    outcome = world.service.receive(data)  # must not raise
    assert len(INTERNAL_ERRORS.records) == logged, INTERNAL_ERRORS.records[-1].getMessage()
    event(f"{what}: {type(getattr(outcome, 'error', outcome)).__name__}")
    if isinstance(outcome, FaultReply):
        assert isinstance(outcome.error, WsscError)
        assert not (isinstance(outcome.error, RequestFailed) and outcome.error.detail == "internal error")
        assert outcome.reply.status == 500
        root = parse(outcome.reply.data)
        assert soap_version_of(root) is outcome.reply.soap
        fault = read_fault(root)
        assert fault is not None and fault.error is not None
        assert isinstance(outcome.error, fault.error)
        assert fault.reason == fault.error.reason
        return
    # Not a fault: the mutation left everything that is verified intact, so it is the original request.
    if isinstance(outcome, ApplicationRequest):
        assert what == "application"
        (payload,) = outcome.message.payload()
        assert payload.findtext("{urn:example:echo}text") == "fuzz"
        return
    assert isinstance(outcome, TokenReply)
    expected = {
        "establish": RequestType.ISSUE,
        "renew": RequestType.RENEW,
        "amend": RequestType.AMEND,
        "validate": RequestType.VALIDATE,
        "cancel": RequestType.CANCEL,
    }[what]
    assert outcome.operation is expected
    assert outcome.reply.status == 200


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(choice=st.integers(0, 3), mutations=st.lists(MUTATION, min_size=1, max_size=4))
def test_mutated_responses_give_the_client_typed_errors_only(
    choice: int, mutations: list[tuple[str, int, object]]
) -> None:
    c = corpus()
    _, response, session = c.responses[choice]
    session.request(echo_body("pending"), ACTION)
    try:
        result = session.receive(mutate(response, mutations))
    except WsscError as error:
        event(type(error).__name__)
    else:
        event(type(result).__name__)
    # Whatever happened, the exchange is closed and the session is usable.
    assert session.context is not None

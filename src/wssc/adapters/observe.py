"""What the HTTP adapters tell about each exchange: log lines under the ``wssc`` logger and the message trace
(:mod:`wssc.adapters.trace`).

The service logs one INFO line per request (``logging`` conventions: the application configures handlers; ``wssc
-v`` does it for the command line)::

    127.0.0.1:53422 urn:uuid:5f0c... http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/SCT issued 12 ms

client address, context Identifier (or ``-``), action, outcome (``ok``, ``issued``, ``renewed``, ``amended``,
``cancelled``, ``valid``, ``invalid``, ``negotiating``) or the fault code, milliseconds; and a WARNING for each
failed authentication (``FailedAuthentication``, or ``InvalidSecurity`` on a bootstrap request).  The client logs
each exchange at INFO (DEBUG adds the sizes).  Key material and passwords are never logged: a line names
messages by their action and contexts by their Identifier, and a fault by its code and the spec's reason only
(the local detail, which may quote the message, stays at DEBUG).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Final

from lxml import etree

from wssc import namespaces as ns
from wssc.adapters.trace import Tracer, label_of
from wssc.conversation.events import ApplicationRequest, Event, FaultReply, Reply, TokenReply
from wssc.errors import FailedAuthentication, InvalidSecurity, WsscError
from wssc.primitives.xml import parse
from wssc.security.addressing import action_of
from wssc.security.faults import read_fault
from wssc.trust import actions
from wssc.trust.elements import RequestType

_log = logging.getLogger(__name__)

#: the most characters of a caller-chosen text (an action) put in a log line
MAX_LOGGED_TEXT: Final = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_OUTCOMES: Final = {
    RequestType.ISSUE: "issued",
    RequestType.RENEW: "renewed",
    RequestType.AMEND: "amended",
    RequestType.CANCEL: "cancelled",
}


def printable(text: str | None) -> str:
    """A caller's text made safe for one log line: control characters escaped, length bounded, ``-`` if none."""
    if not text:
        return "-"
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return text if len(text) <= MAX_LOGGED_TEXT else text[:MAX_LOGGED_TEXT] + "..."


def _milliseconds(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def _guard(what: str, tracer: Tracer, write: Callable[[], object]) -> None:
    """A trace that cannot be written is logged, never a failed request."""
    try:
        write()
    except OSError as error:
        _log.warning("trace: cannot write the %s in %s: %s", what, tracer.directory, error.strerror or error)


class ClientObserver:
    """The client adapters' hook around each HTTP exchange (:mod:`wssc.adapters.http_client`)."""

    def __init__(self, tracer: Tracer | None) -> None:
        self.tracer = tracer

    def sent(self, url: str, data: bytes) -> float:
        if (tracer := self.tracer) is not None:
            _guard("request", tracer, lambda: tracer.sent(data))
        return time.perf_counter()

    def received(self, url: str, request: bytes, status: int, data: bytes, started: float) -> bytes:
        elapsed = _milliseconds(started)
        if (tracer := self.tracer) is not None:
            _guard("response", tracer, lambda: tracer.received(data))
        if _log.isEnabledFor(logging.INFO):
            _log.info("POST %s %s -> %d %s %d ms", url, label_of(request), status, label_of(data), elapsed)
            _log.debug("%d bytes sent, %d received", len(request), len(data))
        return data

    def plaintext(self, direction: str, data: bytes) -> None:
        """The session's plaintext hook (the request before protection, the response verified)."""
        if (tracer := self.tracer) is not None:
            _guard(f"decrypted {direction}", tracer, lambda: tracer.plaintext(direction, data))


class RequestLog:
    """The service adapter's hook: one :class:`Exchange` per request (:mod:`wssc.adapters.asgi`)."""

    def __init__(self, tracer: Tracer | None = None) -> None:
        self.tracer = tracer

    def start(self, client: str, body: bytes) -> Exchange:
        return Exchange(self.tracer, client, body)


class Exchange:
    """One request at the service, from its bytes to the reply: traced, then logged in one line."""

    def __init__(self, tracer: Tracer | None, client: str, body: bytes) -> None:
        self.started = time.perf_counter()
        self.tracer, self.client, self.body = tracer, client, body
        self.context = "-"
        self.action: str | None = None
        self.outcome: str | None = None
        self.number = 0
        self._claimed: tuple[str] | None = None
        if tracer is not None:
            self.number = tracer.reserve(2)  # the request and its reply, side by side even when requests overlap
            _guard("request", tracer, lambda: tracer.write(self.number, "request", body))

    def _raw_action(self) -> str | None:
        """The action the request claims (unverified: it only names the request in the log), read once."""
        if self._claimed is None:
            self._claimed = ("",)
            try:
                root = parse(self.body)
            except WsscError:
                return None
            header = next((c for c in root if isinstance(c.tag, str) and etree.QName(c).localname == "Header"), None)
            self._claimed = (action_of(header) or "",)
        return self._claimed[0] or None

    def saw(self, event: Event) -> None:
        """What the service made of the request."""
        if isinstance(event, ApplicationRequest):
            self.action, self.outcome = event.action, "ok"
            context = event.context.identifier if event.context is not None else None
            self.context = context or (event.message.context.identifier if event.message.context else "-")
            if (tracer := self.tracer) is not None:
                plain, label = event.message.to_bytes(), label_of(self.body)
                write = tracer.write
                _guard(
                    "decrypted request",
                    tracer,
                    lambda: write(self.number, "request", plain, label=label, decrypted=True),
                )
        elif isinstance(event, TokenReply):
            if event.context is not None:
                self.context = event.context.identifier
            if event.operation is RequestType.VALIDATE:
                self.outcome = "valid" if event.valid else "invalid"
            elif event.operation is RequestType.ISSUE and event.context is None:
                self.outcome = "negotiating"
            else:
                self.outcome = _OUTCOMES.get(event.operation, event.operation.name.lower())
        elif isinstance(event, FaultReply):
            self._failed(event.error)

    def _failed(self, error: WsscError) -> None:
        self.outcome = error.prefixed_code
        authentication = isinstance(error, FailedAuthentication)
        if type(error) is InvalidSecurity:  # on a bootstrap request: the credentials did not hold
            if b"EncryptedKey" in self.body and ns.XENC.encode() in self.body:
                authentication = True
            else:
                info = actions.operation_for_action(self._raw_action() or "")
                authentication = info is not None and info.operation is RequestType.ISSUE and not info.is_response
        if authentication:
            _log.warning(
                "authentication failed: %s from %s, action %s (%s)",
                error.prefixed_code,
                self.client,
                printable(self._raw_action()),
                error.reason,
            )
        _log.debug("fault %s: %s", error.prefixed_code, printable(error.detail))

    def finish(self, reply: Reply) -> None:
        """The reply is about to go out: trace it and log the request's line."""
        if (tracer := self.tracer) is not None:
            _guard("reply", tracer, lambda: tracer.write(self.number + 1, "response", reply.data))
        if not _log.isEnabledFor(logging.INFO):
            return
        if reply.status != 200 and self.outcome in (None, "ok"):
            try:
                fault = read_fault(parse(reply.data))
            except WsscError:
                fault = None
            if fault is None:
                self.outcome = f"HTTP {reply.status}"
            else:
                known = fault.error
                self.outcome = f"{known.code_kind}:{known.code}" if known else fault.code.rpartition("}")[2]
        action = self.action or self._raw_action()
        elapsed = _milliseconds(self.started)
        _log.info("%s %s %s %s %d ms", self.client, printable(self.context), printable(action), self.outcome, elapsed)

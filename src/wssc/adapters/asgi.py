"""Hosting a :class:`~wssc.conversation.service.SecureConversationService` over HTTP: an ASGI application
(served by uvicorn for ``wssc serve``) and the same thing as a WSGI application.

Application authors register handlers by WS-Addressing action (or SOAPAction)::

    app = WsscApp(service)

    @app.operation("urn:example:echo")
    def echo(request: ApplicationRequest) -> Element | bytes:
        return request.message.payload()[0]       # the verified, decrypted Body content

A handler receives only verified data (the signxml model) and returns the payload of the response Body;
the app protects it under the caller's context.  A handler answers with a SOAP fault of its own by raising
:class:`~wssc.adapters.app_fault.ApplicationFault` (``ApplicationFault(code, reason, detail)``), protected under
the context as well (HTTP 500).  Token operations (RST/RSTR) and faults never reach
handlers.  Every failure is a SOAP fault with the spec's code; no request produces a traceback.

Over ASGI, verifying a request, a synchronous handler and protecting the answer run in a bounded
:class:`~wssc.adapters.throttle.WorkerPool`, so one expensive request cannot stall the others; past the pool's
bound a request is answered at once with HTTP 503.  A coroutine handler, or one marked :func:`nonblocking`,
runs on the loop.  A small context message the compiled core verifies
(:data:`~wssc.adapters.throttle.LOOP_REQUEST_BYTES`) is verified on the loop: that bounded work costs less
there than the handoff to a worker and back under the GIL; a small answer to it from a handler that ran on
the loop is protected there too.  The body is bounded before it is read (``max_body``,
:data:`wssc.limits.MAX_MESSAGE_BYTES`) in both adapters, and a malformed ``Content-Length`` gets HTTP 400
(RFC 9110 section 8.6).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from lxml import etree

from wssc.adapters.app_fault import ApplicationFault
from wssc.adapters.handlers import Handler, Payload, answer_size, echo_handler, in_worker, nonblocking
from wssc.adapters.http_fields import content_length, transport_action
from wssc.adapters.observe import Exchange, RequestLog
from wssc.adapters.throttle import (
    LOOP_REQUEST_BYTES,
    RETRY_AFTER_SECONDS,
    WorkerPool,
    busy_fault,
    soap_version_of_content_type,
)
from wssc.adapters.trace import Tracer
from wssc.adapters.wsgi import application
from wssc.conversation.events import Event
from wssc.conversation.policy_writer import publish_wsdl
from wssc.conversation.service import (
    ApplicationRequest,
    FaultReply,
    Reply,
    SecureConversationService,
    TokenReply,
)
from wssc.errors import InvalidSecurity, RequestFailed, WsscError
from wssc.limits import MAX_MESSAGE_BYTES
from wssc.security.soap import SOAP11, SOAP12, SOAPVersion

__all__ = ["WsscApp", "content_length", "echo_handler", "lifespan", "nonblocking", "transport_action"]

_log = logging.getLogger(__name__)

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_BUSY: Final = {soap: busy_fault(soap) for soap in (SOAP11, SOAP12)}
#: what a synchronous handler returns (``Payload``): never awaitable, so not asked through ``inspect``'s ABC check
_PLAIN_PAYLOAD: Final = (list, bytes, etree._Element)


@dataclass(frozen=True)
class _Awaiting:
    """A verified request whose (coroutine) handler is still to be awaited on the event loop."""

    request: ApplicationRequest
    result: Awaitable[Payload]


class WsscApp:
    def __init__(
        self,
        service: SecureConversationService,
        *,
        default: Handler | None = None,
        max_body: int = MAX_MESSAGE_BYTES,
        path: str | None = None,
        wsdl: bytes | None = None,
        pool: WorkerPool | None = None,
        trace: Tracer | None = None,
    ) -> None:
        self.service = service
        #: one INFO line per request under the ``wssc`` logger, and the message trace (:mod:`wssc.adapters.observe`)
        self.requests = RequestLog(trace)
        #: the application's WSDL, served at ``?wsdl`` with the service's security policy and certificate
        self.wsdl = wsdl
        #: serve only this path (None: every path)
        self.path = path
        self.handlers: dict[str, Handler] = {}
        self.default = default
        self.max_body = max_body
        #: where ASGI requests are verified and answered (WSGI requests run in the WSGI server's threads)
        self.pool = pool if pool is not None else WorkerPool()

    def operation(self, action: str) -> Callable[[Handler], Handler]:
        """Register a handler for messages with this action."""

        def register(handler: Handler) -> Handler:
            self.handlers[action] = handler
            return handler

        return register

    # -- the transport-independent part (blocking: runs in a worker or a WSGI server's thread) ------------
    def published_wsdl(self, address: str) -> bytes:
        """The WSDL as ``?wsdl`` serves it: policy attached, certificate published, ports at ``address``."""
        assert self.wsdl is not None
        negotiation = self.service.negotiation
        negotiator = negotiation.negotiator if negotiation is not None else None
        return publish_wsdl(self.wsdl, self.service.credentials, self.service.settings, address, negotiator)

    def _begin(
        self, body: bytes, transport_action: str | None, over_tls: bool, exchange: Exchange | None = None
    ) -> Reply | _Awaiting:
        """Verify the request and run a synchronous handler: the reply, or a coroutine still to await."""
        event = self.service.receive(body, transport_action=transport_action, over_tls=over_tls)
        return self._after(event, exchange)

    def _resume(self, rest: Callable[[], Event], exchange: Exchange) -> Reply | _Awaiting:
        """:meth:`_begin` for a light request the compiled core declined: the Python path decides it."""
        return self._after(rest(), exchange)

    def _after(self, event: Event, exchange: Exchange | None) -> Reply | _Awaiting:
        received = self._received(event, exchange)
        return received if isinstance(received, Reply) else self._answer(received)

    @staticmethod
    def _received(event: Event, exchange: Exchange | None) -> ApplicationRequest | Reply:
        """An application request, or the service's own reply (a token operation, a fault)."""
        if exchange is not None:
            exchange.saw(event)
        if isinstance(event, (TokenReply, FaultReply)):
            return event.reply
        return event

    def _handler(self, event: ApplicationRequest) -> Handler | None:
        return self.handlers.get(event.action or "", self.default)

    def _answer(self, event: ApplicationRequest) -> Reply | _Awaiting:
        """Run the request's handler: the protected reply of a synchronous one, or its coroutine to await."""
        handler = self._handler(event)
        if handler is None:
            error = InvalidSecurity(f"no operation for action {event.action!r}")
            return self.service.fault(error, event.message.soap).reply
        try:
            result = handler(event)
        except Exception as error:
            return self._failed(event, error)
        if not isinstance(result, _PLAIN_PAYLOAD) and inspect.isawaitable(result):
            return _Awaiting(event, result)
        return self._respond(event, result)

    def _respond(self, request: ApplicationRequest, payload: Payload) -> Reply:
        """Protect the handler's answer under the request's key."""
        try:
            return Reply(self.service.respond(request, payload), request.message.soap)
        except Exception as error:
            return self._failed(request, error)

    def _failed(self, request: ApplicationRequest, error: Exception) -> Reply:
        """The fault for a handler's (or the answer's) failure: an :class:`ApplicationFault` protected under the
        request's context (HTTP 500), a WsscError's own code, or RequestFailed for a bug."""
        if isinstance(error, ApplicationFault):
            soap = request.message.soap
            try:
                data = self.service.respond(request, error.element(soap), action=error.action)
            except Exception as failure:
                return self._failed(request, failure)
            return Reply(data, soap, 500)  # as every fault (events.Reply), WCF too
        if not isinstance(error, WsscError):
            _log.error("handler for %r failed", request.action, exc_info=error)
            error = RequestFailed("the operation failed")
        return self.service.fault(error, request.message.soap).reply

    async def _settle(self, pending: _Awaiting) -> Payload | Reply:
        try:
            return await pending.result
        except Exception as error:
            return self._failed(pending.request, error)

    def handle_blocking(
        self, body: bytes, transport_action: str | None, over_tls: bool = False, client: str = "-"
    ) -> Reply:
        """One whole request in the calling thread (WSGI); a coroutine handler gets its own event loop."""
        exchange = self.requests.start(client, body)
        step = self._begin(body, transport_action, over_tls, exchange)
        if not isinstance(step, Reply):
            outcome = asyncio.run(self._settle(step))
            step = outcome if isinstance(outcome, Reply) else self._respond(step.request, outcome)
        exchange.finish(step)
        return step

    async def handle(
        self, body: bytes, transport_action: str | None, over_tls: bool = False, client: str = "-"
    ) -> Reply:
        """One whole request from a coroutine: the blocking steps in the pool (never refused here; the ASGI
        entry point refuses at admission)."""
        exchange = self.requests.start(client, body)
        reply = await self._finish(await self.pool.run(self._begin, body, transport_action, over_tls, exchange))
        exchange.finish(reply)
        return reply

    async def _finish(self, step: Reply | _Awaiting, on_loop: bool = False) -> Reply:
        """The reply: a coroutine handler awaited, its answer protected in a worker (on the loop when the
        request was verified there and the answer is as small: ``on_loop``)."""
        if isinstance(step, Reply):
            return step
        outcome = await self._settle(step)
        if isinstance(outcome, Reply):
            return outcome
        if on_loop and answer_size(outcome) <= LOOP_REQUEST_BYTES:
            return self._respond(step.request, outcome)
        return await self.pool.run(self._respond, step.request, outcome)

    async def _on_loop(
        self, body: bytes, transport_action: str | None, over_tls: bool, exchange: Exchange
    ) -> Reply | None:
        """A light request (``SecureConversationService.is_light``): the compiled core verifies it on the event
        loop; where the core declines it, the Python path decides it in a worker.  A synchronous handler runs
        in a worker (it may block), a coroutine or :func:`nonblocking` one on the loop.  None: the pool is full."""
        outcome = self.service.receive_light(body, transport_action=transport_action, over_tls=over_tls)
        if not isinstance(outcome, (ApplicationRequest, TokenReply, FaultReply)):
            rest = self.pool.submit_async(self._resume, outcome, exchange)
            return None if rest is None else await self._finish(await rest)
        event = self._received(outcome, exchange)
        if isinstance(event, Reply):
            return event
        if in_worker(self._handler(event)):
            step = self.pool.submit_async(self._answer, event)
            return None if step is None else await self._finish(await step)
        return await self._finish(self._answer(event), on_loop=True)

    # -- ASGI ----------------------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if self.path is not None and scope.get("path") != self.path:
            await _respond(send, 404, b"no SOAP endpoint here\n", "text/plain")
            return
        headers = scope.get("headers", [])
        if scope["method"] == "GET" and self.wsdl is not None and scope.get("query_string", b"").lower() == b"wsdl":
            host = dict(headers).get(b"host", b"localhost").decode("latin-1")
            address = f"{scope.get('scheme', 'http')}://{host}{scope.get('path', '/')}"
            document = self.pool.submit(self.published_wsdl, address)
            if document is None:
                await _busy(send, SOAP12)
                return
            await _respond(send, 200, await asyncio.wrap_future(document), "text/xml; charset=utf-8")
            return
        if scope["method"] != "POST":
            await _respond(send, 405, b"SOAP endpoints accept POST only\n", "text/plain", [(b"allow", b"POST")])
            return
        content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"").decode("latin-1")
        soap = soap_version_of_content_type(content_type)
        if not self.pool.admits():  # refuse before reading: a refusal must cost the server nothing
            await _busy(send, soap)
            return
        body = await self._read_body(headers, receive, send)
        if body is None:
            return
        exchange = self.requests.start(_client_of(scope), body)
        over_tls = scope.get("scheme") == "https"
        action = transport_action(headers)
        if self.service.is_light(body, LOOP_REQUEST_BYTES):  # cheaper here than a handoff to a worker
            light = await self._on_loop(body, action, over_tls, exchange)
            if light is None:
                await _busy(send, soap)
                return
            reply = light
        else:
            first = self.pool.submit_async(self._begin, body, action, over_tls, exchange)
            if first is None:
                await _busy(send, soap)
                return
            reply = await self._finish(await first)
        exchange.finish(reply)
        await _respond(send, reply.status, reply.data, reply.soap.content_type)

    async def _read_body(self, headers: Iterable[tuple[bytes, bytes]], receive: Receive, send: Send) -> bytes | None:
        """The request body, never more than ``max_body`` bytes of it held; None when answered already
        (400 malformed length, 413 too large) or when the client went away."""
        for name, value in headers:
            if name.lower() != b"content-length":
                continue
            length = content_length(value.decode("latin-1"))
            if length is None:
                await _respond(send, 400, b"malformed Content-Length\n", "text/plain")
                return None
            if length > self.max_body:
                await _respond(send, *self.too_large())
                return None
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            if len(body) + len(chunk) > self.max_body:  # chunked bodies declare no length: count as they come
                await _respond(send, *self.too_large())
                return None
            if not message.get("more_body", False):
                # a body in one piece (the usual case) is used as it came, not copied twice
                return bytes(chunk) if not body else bytes(body + chunk)
            body += chunk

    # -- WSGI -----------------------------------------------------------------------------------------------
    def wsgi(self) -> Callable[[dict[str, Any], Callable[..., Any]], list[bytes]]:
        """The same endpoint as a WSGI application (:func:`wssc.adapters.wsgi.application`)."""
        return application(self)

    def too_large(self) -> tuple[int, bytes, str]:
        fault = self.service.fault(InvalidSecurity("message too large"), SOAP12).reply
        return 413, fault.data, SOAP12.content_type


def _client_of(scope: Scope) -> str:
    """The ASGI peer as ``host:port`` (``-`` when the server does not say)."""
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "-"


async def lifespan(receive: Receive, send: Send) -> None:
    """Answer an ASGI lifespan scope: nothing to start or stop."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _respond(
    send: Send, status: int, data: bytes, content_type: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": data})


async def _busy(send: Send, soap: SOAPVersion) -> None:
    """HTTP 503 with the ``wsa:EndpointUnavailable`` fault and Retry-After (:mod:`wssc.adapters.throttle`)."""
    await _respond(send, 503, _BUSY[soap], soap.content_type, [(b"retry-after", str(RETRY_AFTER_SECONDS).encode())])

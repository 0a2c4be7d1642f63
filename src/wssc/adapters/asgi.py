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
:class:`~wssc.adapters.throttle.WorkerPool`, never on the event loop, so one expensive request cannot stall
the others; past the pool's bound a request is answered at once with HTTP 503.  A coroutine handler runs
on the loop.  The body is bounded before it is read (``max_body``, :data:`wssc.limits.MAX_MESSAGE_BYTES`)
in both adapters, and a malformed ``Content-Length`` gets HTTP 400 (RFC 9110 section 8.6).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final

from wssc.adapters.app_fault import ApplicationFault
from wssc.adapters.observe import Exchange, RequestLog
from wssc.adapters.throttle import RETRY_AFTER_SECONDS, WorkerPool, busy_fault, soap_version_of_content_type
from wssc.adapters.trace import Tracer
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
from wssc.primitives.xml import Element, is_ascii_digits
from wssc.security.soap import SOAP11, SOAP12, SOAPVersion

_log = logging.getLogger(__name__)

Payload = Element | bytes | list[Element]
Handler = Callable[[ApplicationRequest], Payload | Awaitable[Payload]]
Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: More digits than this in a Content-Length is more than any body limit (and than ``int`` should parse).
_LENGTH_DIGITS: Final = 18
_BUSY: Final = {soap: busy_fault(soap) for soap in (SOAP11, SOAP12)}


def _transport_action(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """SOAPAction (SOAP 1.1) or the ``action`` parameter of application/soap+xml (SOAP 1.2 part 2, 7.1.4)."""
    for name, value in headers:
        lower = name.lower()
        if lower == b"soapaction":
            return value.decode("latin-1").strip().strip('"') or None
        if lower == b"content-type":
            for param in value.decode("latin-1").split(";")[1:]:
                key, _, raw = param.strip().partition("=")
                if key.lower() == "action":
                    return raw.strip().strip('"') or None
    return None


def content_length(value: str) -> int | None:
    """A Content-Length field value (RFC 9110 section 8.6: ``1*DIGIT``), or None when malformed: negative,
    signed, blank inside, not ASCII digits.  A value longer than any limit reads as ``sys.maxsize``."""
    value = value.strip(" \t")
    if not is_ascii_digits(value):
        return None
    significant = value.lstrip("0")
    return sys.maxsize if len(significant) > _LENGTH_DIGITS else int(significant or "0")


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
        if exchange is not None:
            exchange.saw(event)
        if isinstance(event, (TokenReply, FaultReply)):
            return event.reply
        handler = self.handlers.get(event.action or "", self.default)
        if handler is None:
            error = InvalidSecurity(f"no operation for action {event.action!r}")
            return self.service.fault(error, event.message.soap).reply
        try:
            result = handler(event)
        except Exception as error:
            return self._failed(event, error)
        if inspect.isawaitable(result):
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

    async def _finish(self, step: Reply | _Awaiting) -> Reply:
        if isinstance(step, Reply):
            return step
        outcome = await self._settle(step)
        if isinstance(outcome, Reply):
            return outcome
        return await self.pool.run(self._respond, step.request, outcome)

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
        first = self.pool.submit_async(self._begin, body, _transport_action(headers), over_tls, exchange)
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
                await _respond(send, *self._too_large())
                return None
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            if len(body) + len(chunk) > self.max_body:  # chunked bodies declare no length: count as they come
                await _respond(send, *self._too_large())
                return None
            body += chunk
            if not message.get("more_body", False):
                return bytes(body)

    # -- WSGI -----------------------------------------------------------------------------------------------
    def wsgi(self) -> Callable[[dict[str, Any], Callable[..., Any]], list[bytes]]:
        """The same endpoint as a WSGI application (handlers may still be coroutines).  The WSGI server's
        threads are the workers here: bound them there (e.g. gunicorn ``--threads``, waitress ``threads``)."""

        def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
            if (
                environ.get("REQUEST_METHOD") == "GET"
                and self.wsdl is not None
                and environ.get("QUERY_STRING", "").lower() == "wsdl"
            ):
                host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "localhost")
                address = f"{environ.get('wsgi.url_scheme', 'http')}://{host}{environ.get('PATH_INFO', '/')}"
                return _wsgi_answer(start_response, 200, self.published_wsdl(address), "text/xml; charset=utf-8")
            if environ.get("REQUEST_METHOD") != "POST":
                message = b"SOAP endpoints accept POST only\n"
                return _wsgi_answer(start_response, 405, message, "text/plain", [("Allow", "POST")])
            body = self._wsgi_body(environ)
            if isinstance(body, tuple):
                return _wsgi_answer(start_response, *body)
            headers = [(b"soapaction", environ.get("HTTP_SOAPACTION", "").encode("latin-1"))]
            headers.append((b"content-type", environ.get("CONTENT_TYPE", "").encode("latin-1")))
            over_tls = environ.get("wsgi.url_scheme") == "https"
            client = f"{environ.get('REMOTE_ADDR', '-')}:{environ.get('REMOTE_PORT', '-')}"
            reply = self.handle_blocking(body, _transport_action(headers), over_tls, client)
            return _wsgi_answer(start_response, reply.status, reply.data, reply.soap.content_type)

        return application

    def _wsgi_body(self, environ: dict[str, Any]) -> bytes | tuple[int, bytes, str]:
        """The body, read with a bound (PEP 3333: never past CONTENT_LENGTH), or the refusal to send."""
        declared = environ.get("CONTENT_LENGTH") or ""
        stream = environ["wsgi.input"]
        if declared.strip():
            length = content_length(declared)
            if length is None:
                return 400, b"malformed Content-Length\n", "text/plain"
            if length > self.max_body:
                return self._too_large()
            data: bytes = stream.read(length)
            return data
        if not environ.get("wsgi.input_terminated"):
            return 411, b"Content-Length required\n", "text/plain"
        data = stream.read(self.max_body + 1)  # the server ends the stream (a chunked upload)
        return data if len(data) <= self.max_body else self._too_large()

    def _too_large(self) -> tuple[int, bytes, str]:
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


def _wsgi_answer(
    start_response: Callable[..., Any],
    status: int,
    data: bytes,
    content_type: str,
    extra: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    headers = [("Content-Type", content_type), ("Content-Length", str(len(data)))]
    start_response(f"{status} {HTTPStatus(status).phrase}", headers + (extra or []))
    return [data]


def echo_handler(request: ApplicationRequest) -> Payload:
    """The demo operation: the response Body holds the request Body's payload unchanged."""
    return list(request.message.payload())

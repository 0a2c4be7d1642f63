"""Hosting a :class:`~wssc.conversation.service.SecureConversationService` over HTTP: an ASGI application
(served by uvicorn for ``wssc serve``) and the same thing as a WSGI application.

Application authors register handlers by WS-Addressing action (or SOAPAction)::

    app = WsscApp(service)

    @app.operation("urn:example:echo")
    def echo(request: ApplicationRequest) -> Element | bytes:
        return request.message.payload()[0]       # the verified, decrypted Body content

A handler receives only verified data (the signxml model) and returns the payload of the response Body;
the app protects it under the caller's context.  Token operations (RST/RSTR) and faults never reach
handlers.  Every failure is a SOAP fault with the spec's code; no request produces a traceback.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

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
from wssc.primitives.xml import Element
from wssc.security.soap import SOAP12

_log = logging.getLogger(__name__)

Payload = Element | bytes | list[Element]
Handler = Callable[[ApplicationRequest], Payload | Awaitable[Payload]]
Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


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


class WsscApp:
    def __init__(
        self,
        service: SecureConversationService,
        *,
        default: Handler | None = None,
        max_body: int = MAX_MESSAGE_BYTES,
        path: str | None = None,
        wsdl: bytes | None = None,
    ) -> None:
        self.service = service
        #: the application's WSDL, served at ``?wsdl`` with the service's security policy and certificate
        self.wsdl = wsdl
        #: serve only this path (None: every path)
        self.path = path
        self.handlers: dict[str, Handler] = {}
        self.default = default
        self.max_body = max_body

    def operation(self, action: str) -> Callable[[Handler], Handler]:
        """Register a handler for messages with this action."""

        def register(handler: Handler) -> Handler:
            self.handlers[action] = handler
            return handler

        return register

    # -- the transport-independent part ------------------------------------------------------------------
    def published_wsdl(self, address: str) -> bytes:
        """The WSDL as ``?wsdl`` serves it: policy attached, certificate published, ports at ``address``."""
        assert self.wsdl is not None
        return publish_wsdl(self.wsdl, self.service.credentials, self.service.settings, address)

    async def handle(self, body: bytes, transport_action: str | None, over_tls: bool = False) -> Reply:
        event = self.service.receive(body, transport_action=transport_action, over_tls=over_tls)
        if isinstance(event, (TokenReply, FaultReply)):
            return event.reply
        return await self._application(event)

    async def _application(self, request: ApplicationRequest) -> Reply:
        soap = request.message.soap
        handler = self.handlers.get(request.action or "", self.default)
        if handler is None:
            return self.service.fault(InvalidSecurity(f"no operation for action {request.action!r}"), soap).reply
        try:
            result = handler(request)
            payload = await result if inspect.isawaitable(result) else result
            return Reply(self.service.respond(request, payload), soap)
        except WsscError as error:
            return self.service.fault(error, soap).reply
        except Exception:
            _log.exception("handler for %r failed", request.action)
            return self.service.fault(RequestFailed("the operation failed"), soap).reply

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
        if scope["method"] == "GET" and self.wsdl is not None and scope.get("query_string", b"").lower() == b"wsdl":
            host = dict(scope.get("headers", [])).get(b"host", b"localhost").decode("latin-1")
            address = f"{scope.get('scheme', 'http')}://{host}{scope.get('path', '/')}"
            await _respond(send, 200, self.published_wsdl(address), "text/xml; charset=utf-8")
            return
        if scope["method"] != "POST":
            await _respond(send, 405, b"SOAP endpoints accept POST only\n", "text/plain", [(b"allow", b"POST")])
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body:
                fault = self.service.fault(InvalidSecurity("message too large"), SOAP12).reply
                await _respond(send, 413, fault.data, SOAP12.content_type)
                return
        over_tls = scope.get("scheme") == "https"
        reply = await self.handle(bytes(body), _transport_action(scope.get("headers", [])), over_tls)
        await _respond(send, reply.status, reply.data, reply.soap.content_type)

    # -- WSGI -----------------------------------------------------------------------------------------------
    def wsgi(self) -> Callable[[dict[str, Any], Callable[..., Any]], list[bytes]]:
        """The same endpoint as a WSGI application (handlers may still be coroutines)."""

        def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
            if (
                environ.get("REQUEST_METHOD") == "GET"
                and self.wsdl is not None
                and environ.get("QUERY_STRING", "").lower() == "wsdl"
            ):
                host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "localhost")
                address = f"{environ.get('wsgi.url_scheme', 'http')}://{host}{environ.get('PATH_INFO', '/')}"
                document = self.published_wsdl(address)
                start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8")])
                return [document]
            if environ.get("REQUEST_METHOD") != "POST":
                start_response("405 Method Not Allowed", [("Content-Type", "text/plain"), ("Allow", "POST")])
                return [b"SOAP endpoints accept POST only\n"]
            length = int(environ.get("CONTENT_LENGTH") or 0)
            if length > self.max_body:
                reply = self.service.fault(InvalidSecurity("message too large"), SOAP12).reply
            else:
                body = environ["wsgi.input"].read(length)
                headers = [(b"soapaction", environ.get("HTTP_SOAPACTION", "").encode("latin-1"))]
                headers.append((b"content-type", environ.get("CONTENT_TYPE", "").encode("latin-1")))
                over_tls = environ.get("wsgi.url_scheme") == "https"
                reply = asyncio.run(self.handle(body, _transport_action(headers), over_tls))
            status = {200: "200 OK", 500: "500 Internal Server Error"}.get(reply.status, f"{reply.status} Error")
            start_response(
                status, [("Content-Type", reply.soap.content_type), ("Content-Length", str(len(reply.data)))]
            )
            return [reply.data]

        return application


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


def echo_handler(request: ApplicationRequest) -> Payload:
    """The demo operation: the response Body holds the request Body's payload unchanged."""
    return list(request.message.payload())

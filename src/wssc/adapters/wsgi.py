"""A :class:`~wssc.adapters.asgi.WsscApp` as a WSGI application (PEP 3333): the same endpoint, each request
handled in the WSGI server's thread (``WsscApp.handle_blocking``), the body read with its bound."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any, Protocol

from wssc.adapters.http_fields import content_length, transport_action
from wssc.conversation.events import Reply


class Endpoint(Protocol):
    """What the WSGI adapter needs of an endpoint (``wssc.adapters.asgi.WsscApp``)."""

    wsdl: bytes | None
    max_body: int

    def published_wsdl(self, address: str) -> bytes: ...

    def handle_blocking(
        self, body: bytes, transport_action: str | None, over_tls: bool = False, client: str = "-"
    ) -> Reply: ...

    def too_large(self) -> tuple[int, bytes, str]: ...


def application(app: Endpoint) -> Callable[[dict[str, Any], Callable[..., Any]], list[bytes]]:
    """The same endpoint as a WSGI application (handlers may still be coroutines).  The WSGI server's
    threads are the workers here: bound them there (e.g. gunicorn ``--threads``, waitress ``threads``)."""

    def endpoint(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if (
            environ.get("REQUEST_METHOD") == "GET"
            and app.wsdl is not None
            and environ.get("QUERY_STRING", "").lower() == "wsdl"
        ):
            host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "localhost")
            address = f"{environ.get('wsgi.url_scheme', 'http')}://{host}{environ.get('PATH_INFO', '/')}"
            return _answer(start_response, 200, app.published_wsdl(address), "text/xml; charset=utf-8")
        if environ.get("REQUEST_METHOD") != "POST":
            message = b"SOAP endpoints accept POST only\n"
            return _answer(start_response, 405, message, "text/plain", [("Allow", "POST")])
        body = _body(app, environ)
        if isinstance(body, tuple):
            return _answer(start_response, *body)
        headers = [(b"soapaction", environ.get("HTTP_SOAPACTION", "").encode("latin-1"))]
        headers.append((b"content-type", environ.get("CONTENT_TYPE", "").encode("latin-1")))
        over_tls = environ.get("wsgi.url_scheme") == "https"
        client = f"{environ.get('REMOTE_ADDR', '-')}:{environ.get('REMOTE_PORT', '-')}"
        reply = app.handle_blocking(body, transport_action(headers), over_tls, client)
        return _answer(start_response, reply.status, reply.data, reply.soap.content_type)

    return endpoint


def _body(app: Endpoint, environ: dict[str, Any]) -> bytes | tuple[int, bytes, str]:
    """The body, read with a bound (PEP 3333: never past CONTENT_LENGTH), or the refusal to send."""
    declared = environ.get("CONTENT_LENGTH") or ""
    stream = environ["wsgi.input"]
    if declared.strip():
        length = content_length(declared)
        if length is None:
            return 400, b"malformed Content-Length\n", "text/plain"
        if length > app.max_body:
            return app.too_large()
        data: bytes = stream.read(length)
        return data
    if not environ.get("wsgi.input_terminated"):
        return 411, b"Content-Length required\n", "text/plain"
    data = stream.read(app.max_body + 1)  # the server ends the stream (a chunked upload)
    return data if len(data) <= app.max_body else app.too_large()


def _answer(
    start_response: Callable[..., Any],
    status: int,
    data: bytes,
    content_type: str,
    extra: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    headers = [("Content-Type", content_type), ("Content-Length", str(len(data)))]
    start_response(f"{status} {HTTPStatus(status).phrase}", headers + (extra or []))
    return [data]

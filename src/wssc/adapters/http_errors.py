"""HTTP answers that carry no SOAP envelope: the endpoint is not there (404), the server failed without a SOAP
fault (5xx), a redirect, or a page that is not SOAP (an HTML error page, a login form).

A SOAP fault travels with HTTP 500 (SOAP 1.1 section 6.2, SOAP 1.2 part 2 section 7.5.1), and WCF sends its faults
so: a response whose body is XML is handed to the conversation whatever its status, and only a response that
cannot be SOAP raises here, naming the status and the URL, as httpx's ``Response.raise_for_status`` would.
"""

from __future__ import annotations

from typing import Final

import httpx

#: the start of the body quoted in an error, for a page that is not SOAP
QUOTED_BODY_CHARS: Final = 80
_HTML_STARTS: Final = (b"<!doctype html", b"<html")


class HttpError(Exception):
    """The service's HTTP answer holds no SOAP envelope.  ``status`` and ``url`` say which; ``str()`` says it
    in one line."""

    def __init__(self, url: str, status: int, message: str, content_type: str = "") -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.content_type = content_type


class EndpointNotFound(HttpError):
    """HTTP 404: nothing listens at this address (WCF: "There was no endpoint listening at ...")."""


class NotSoapResponse(HttpError):
    """A success or redirect status whose body is not a SOAP envelope (an HTML page, an empty body)."""


def _looks_like_soap(response: httpx.Response) -> bool:
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media and "xml" not in media:
        return False
    # A UTF-8 byte order mark may lead the document (Mono's WCF writes one; XML 1.0 section 4.3.3 allows it).
    start = response.content.removeprefix(b"\xef\xbb\xbf").lstrip()[:20].lower()
    return start.startswith(b"<") and not start.startswith(_HTML_STARTS)


def _quoted(response: httpx.Response) -> str:
    text = " ".join(response.content.decode("utf-8", "replace").split())
    if not text:
        return "an empty body"
    return repr(text[:QUOTED_BODY_CHARS] + ("..." if len(text) > QUOTED_BODY_CHARS else ""))


def checked_content(response: httpx.Response) -> bytes:
    """The body of a response that may hold a SOAP envelope (a fault included, whatever the status); otherwise
    :class:`EndpointNotFound` (404), :class:`HttpError` (other 4xx and 5xx) or :class:`NotSoapResponse`."""
    if _looks_like_soap(response):
        return response.content
    url, status = str(response.request.url), response.status_code
    media = response.headers.get("content-type", "") or "no Content-Type"
    if status == 404:
        raise EndpointNotFound(url, status, f"{url}: HTTP 404, no service at this address", media)
    if status >= 500:
        hint = "the service failed without a SOAP fault: its own logs say why"
        raise HttpError(url, status, f"{url}: HTTP {status} {response.reason_phrase}, {hint}", media)
    if status == 415:
        sent = response.request.headers.get("content-type", "")
        hint = f"the service wants another SOAP version than the {sent.split(';')[0]} sent"
        raise HttpError(url, status, f"{url}: HTTP 415 Unsupported Media Type, {hint}", media)
    if status == 401:
        asked = response.headers.get("www-authenticate", "an unnamed scheme")
        hint = f"the server wants HTTP authentication first ({asked}), which is not message security"
        raise HttpError(url, status, f"{url}: HTTP 401 Unauthorized, {hint}", media)
    if status >= 400:
        raise HttpError(url, status, f"{url}: HTTP {status} {response.reason_phrase} ({media})", media)
    if 300 <= status < 400:
        where = response.headers.get("location", "elsewhere")
        raise NotSoapResponse(url, status, f"{url}: HTTP {status} redirects to {where}; call that URL", media)
    message = f"{url}: HTTP {status} but not a SOAP response ({media}: {_quoted(response)})"
    raise NotSoapResponse(url, status, message, media)

"""The network commands' one place for failures: a click command class that turns what a user's mistake or the
service raises into one or two lines naming the URL, file or option at fault (exit status 1), never a traceback.

httpx's transport errors name the URL and what to check; :class:`~wssc.adapters.http_errors.HttpError` (404, 5xx
without a fault, a page that is not SOAP) is printed as raised; a fault the service sent is shown with its own code
and reason (WCF's ``a:ActionNotSupported``, not the generic spec text), with a line on what the known codes mean
(WS-Addressing 1.0 SOAP Binding section 6, SOAP 1.2 part 1 section 5.4.6, WS-Security 1.1 section 12, WS-SC 1.3
section 9, WS-Trust 1.3 section 11, WCF's own).  Click's own usage errors keep their exit status 2.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import click
import httpx

from wssc import namespaces as ns
from wssc.adapters.http_errors import HttpError
from wssc.conversation.client import ClientSession
from wssc.errors import WsscError
from wssc.versions import VERSIONS

#: the prefixes faults are shown with, as WCF's own traces write them
_PREFIXES: Final = {
    ns.WSA10: "a",
    ns.WSA200408: "a",
    ns.SOAP11: "s",
    ns.SOAP12: "s",
    ns.WSSE: "wsse",
    ns.DNSE: "dnse",
    **{v.sc: "wsc" for v in VERSIONS},
    **{v.trust: "wst" for v in VERSIONS},
}
#: codes a service answers a bootstrap with when it cannot decrypt or verify it: with a certificate-encrypted
#: bootstrap, most often because the client encrypted to another certificate than the service's own
_BOOTSTRAP_SECURITY: Final = frozenset(
    {"wsse:InvalidSecurity", "wsse:SecurityTokenUnavailable", "wsse:InvalidSecurityToken", "wsse:FailedCheck"}
)
_REFUSED: Final = "the service refused the credentials (user name and password, or client certificate)"
#: what a code means, in a line (WCF sends the first group when its binding does not match the message)
MEANINGS: Final = {
    "a:ActionNotSupported": "the service has no operation for this action: check --action (or the input's "
    "wsa:Action) against the soapAction in its WSDL",
    "a:DestinationUnreachable": "the service has no endpoint for this address (wsa:To): check the URL against "
    "the address in its WSDL",
    "a:EndpointUnavailable": "the endpoint is not accepting messages now; retry later",
    "a:MessageAddressingHeaderRequired": "the service wants a WS-Addressing header the message lacks: its binding's "
    "messageVersion differs",
    "a:InvalidAddressingHeader": "a WS-Addressing header is not what the service expects: its binding's "
    "messageVersion differs",
    "s:VersionMismatch": "the service speaks the other SOAP version: try --soap 1.1 or --soap 1.2",
    "s:MustUnderstand": "the service does not understand a header it must: its binding's security or addressing "
    "differs (wssc policy URL?wsdl shows what it wants)",
    "wsse:UnsupportedAlgorithm": "the service wants another algorithm suite (--suite; wssc policy URL?wsdl "
    "shows which)",
    "wsse:MessageExpired": "the message's timestamp is outside the service's window: are both clocks right?",
    "wsc:BadContextToken": "the service does not know this context (expired, cancelled, or the service restarted)",
    "wsc:RenewNeeded": "the context has expired at the service",
    "wst:FailedAuthentication": _REFUSED,
    "wsse:FailedAuthentication": _REFUSED,
    "wst:InvalidRequest": "the service refused the token request: its WS-SecureConversation version may differ "
    "(--sc-version)",
    "dnse:ServerTooBusy": "the service has too many negotiations or contexts open; retry later",
}
_CERTIFICATE_HINT: Final = (
    "is {cert} the service's certificate? The service could not read what was encrypted to it. Its certificate is in "
    "its WSDL: wssc policy {wsdl} --save-certificate FILE writes it (wssc serve: wssc-dev/service-cert.pem)"
)
_NEGOTIATION_HINT: Final = (
    "the service did not take the negotiation: does its binding negotiate (and with this mechanism)? "
    "wssc policy {wsdl} shows its bootstrap"
)
_SECURITY_HINT: Final = (
    "the service could not verify the message: its algorithm suite or protection may differ "
    "(wssc policy URL?wsdl shows what it wants)"
)


@dataclass
class Situation:
    """What the command was doing, for the messages: set in ``ctx.meta[SITUATION]`` by the command."""

    url: str | None = None
    #: the ``--server-cert`` file a bootstrap is encrypted to
    bootstrap_certificate: str | None = None
    #: the conversation: a bootstrap fault is one that comes while it has no context yet
    session: ClientSession | None = None
    #: the context is negotiated (SPNEGO, TLSNEGO): its legs travel unsecured
    negotiating: bool = False

    def bootstrapping(self) -> bool:
        """The failing request was a bootstrap (no context yet)."""
        return self.session is None or not self.session.established

    def bootstrapping_with(self) -> str | None:
        """The certificate file the failing request was encrypted to, when it was a bootstrap."""
        return self.bootstrap_certificate if self.bootstrapping() else None


SITUATION: Final = "wssc.situation"


def situation(ctx: click.Context) -> Situation:
    """The command's :class:`Situation`, created on first use."""
    found = ctx.meta.get(SITUATION)
    if not isinstance(found, Situation):
        found = ctx.meta[SITUATION] = Situation()
    return found


def short_code(clark: str) -> str:
    """``{namespace}local`` as ``prefix:local`` with the prefixes WCF writes; unknown namespaces stay whole."""
    if not clark.startswith("{"):
        return clark
    namespace, _, local = clark[1:].partition("}")
    prefix = _PREFIXES.get(namespace)
    return f"{prefix}:{local}" if prefix else clark


def wsdl_url(url: str | None) -> str:
    """Where a WCF service publishes its WSDL: the address with ``?wsdl``."""
    if url is None:
        return "URL?wsdl"
    return url + ("&wsdl" if "?" in url else "?wsdl")


def error_lines(error: WsscError, where: Situation) -> str:
    """A fault the service sent (its code and reason as sent, and what it means), or our own check that failed."""
    if error.fault_code is None:
        detail = f" ({error.detail})" if error.detail and error.detail != error.reason else ""
        return f"{error.prefixed_code}: {error.reason}{detail}"
    code = short_code(error.fault_code)
    reason = " ".join((error.fault_reason or "").split()) or "(no reason given)"
    first = f"{where.url or 'the service'} answered with a fault: {code}: {reason}"
    hint: str | None
    if code in _BOOTSTRAP_SECURITY:
        certificate = where.bootstrapping_with()
        hint = _CERTIFICATE_HINT.format(cert=certificate, wsdl=wsdl_url(where.url)) if certificate else _SECURITY_HINT
        if where.negotiating and where.bootstrapping():
            hint = _NEGOTIATION_HINT.format(wsdl=wsdl_url(where.url))
    else:
        hint = MEANINGS.get(code)
    return f"{first}\n{hint}" if hint else first


def _url_of(error: httpx.RequestError, where: Situation) -> str:
    try:
        return str(error.request.url)
    except RuntimeError:  # raised before a request was built
        return where.url or "the URL"


def network_lines(error: httpx.HTTPError, where: Situation) -> str:
    """httpx's errors, named by URL, with what to check."""
    if not isinstance(error, httpx.RequestError):
        return f"{where.url or 'the URL'}: {error}"
    url = _url_of(error, where)
    text = str(error) or type(error).__name__
    if isinstance(error, httpx.UnsupportedProtocol):
        return f"{url}: not an http:// or https:// URL ({text})"
    if isinstance(error, httpx.TimeoutException):
        return f"{url}: no answer in time ({type(error).__name__})"
    if isinstance(error, httpx.RemoteProtocolError) or "reset by peer" in text:
        hint = "; does it want https://?" if url.startswith("http://") else ""
        return f"{url}: the server broke the HTTP exchange ({text}){hint}"
    cause = error.__context__
    if isinstance(cause, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in text:
        return f"{url}: the server's TLS certificate is not trusted ({text})"
    if isinstance(cause, ssl.SSLError) or "SSL" in text:
        hint = "; is it plain HTTP (http://)?" if url.startswith("https://") else ""
        return f"{url}: the TLS handshake failed ({text}){hint}"
    if "Name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
        return f"{url}: unknown host ({text})"
    if "refused" in text.lower():
        return f"{url}: connection refused: is the service running at this host and port?"
    return f"{url}: {text}"


class FriendlyCommand(click.Command):
    """A command whose user-facing failures are one or two lines, exit status 1 (``click.ClickException``)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException:
            raise
        except HttpError as error:
            raise click.ClickException(str(error)) from None
        except httpx.HTTPError as error:
            raise click.ClickException(network_lines(error, situation(ctx))) from None
        except httpx.InvalidURL as error:
            raise click.ClickException(f"{situation(ctx).url or 'the URL'}: {error}") from None
        except WsscError as error:
            raise click.ClickException(error_lines(error, situation(ctx))) from None
        except OSError as error:
            name = f"{error.filename}: " if error.filename else ""
            raise click.ClickException(f"{name}{error.strerror or error}") from None


def is_http_url(value: str) -> bool:
    """An absolute http:// or https:// URL with a host, that httpx accepts."""
    try:
        parts = urlsplit(value)
        httpx.URL(value)
    except (ValueError, httpx.InvalidURL):
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


class HttpUrl(click.ParamType):  # type: ignore[type-arg]
    """An http:// or https:// URL; a malformed one is a usage error (exit status 2) naming it."""

    name = "URL"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        if not is_http_url(text):
            self.fail(f"{text!r} is not an http:// or https:// URL", param, ctx)
        if ctx is not None:
            situation(ctx).url = text
        return text

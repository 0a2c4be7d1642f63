"""zeep's transport settings carried over to the httpx client of the operation calls.

zeep loads WSDLs through its ``Transport(session=requests.Session(), timeout=..., operation_timeout=...)``;
:class:`~wssc.adapters.zeep_transport.WsscTransport` sends the operations with httpx, so a user's session
settings must reach that client too, as requests would apply them to a POST to the endpoint address
(``requests.Session.merge_environment_settings`` and ``requests.utils.select_proxy``, environment included
when ``session.trust_env``):

- ``verify``: True (the certifi bundle, as requests; ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` when trusted
  from the environment), False, or a CA bundle file or directory, which wins over the environment's bundle
  -> an ``ssl.SSLContext`` (httpx's ``verify``);
- ``cert``: a PEM file with both, or ``(certificate, key)`` -> loaded into that context (httpx's ``cert``);
- ``proxies``: the entry requests picks for the address (``scheme://host``, ``scheme``, ``all://host``,
  ``all``; ``no_proxy``) -> httpx's ``proxy``;
- ``headers`` (zeep's User-Agent included) -> the client's default headers; the SOAP ones (Content-Type,
  SOAPAction) stay wssc's, per request;
- ``auth``: a ``(user, password)`` tuple or ``HTTPBasicAuth``/``HTTPDigestAuth`` -> httpx's; others are refused;
- ``cookies`` -> the client's cookie jar;
- ``operation_timeout``, else ``timeout`` (zeep's WSDL timeout, 300 s by default) -> httpx's timeout.

Mounted requests adapters (retries, mocks) have no httpx equivalent and are not carried over.
"""

from __future__ import annotations

import os
import ssl
from typing import Any, Final

import certifi
import httpx
import requests
from requests.utils import select_proxy

#: Session headers that belong to one request or one connection, never to the client's defaults.
_NOT_DEFAULTS: Final = frozenset(
    {"content-type", "soapaction", "content-length", "host", "connection", "transfer-encoding"}
)


class UnsupportedSetting(ValueError):
    """A zeep transport setting that cannot be carried over to the operation calls (refused, never ignored)."""


def ssl_context(verify: bool | str, cert: str | tuple[str, str] | None) -> ssl.SSLContext:
    """requests' ``verify`` and ``cert`` as one context (httpx 0.28 deprecates the string forms)."""
    if verify is False:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif verify is True:
        context = ssl.create_default_context(cafile=certifi.where())
    elif os.path.isdir(verify):
        context = ssl.create_default_context(capath=verify)
    elif os.path.isfile(verify):
        try:
            context = ssl.create_default_context(cafile=verify)
        except ssl.SSLError as error:
            raise UnsupportedSetting(f"session.verify={verify!r} holds no PEM CA certificate: {error}") from None
    else:
        raise UnsupportedSetting(f"session.verify={verify!r}: no such CA bundle file or directory")
    if cert:
        certificate, key = (cert, None) if isinstance(cert, str) else cert
        try:
            context.load_cert_chain(certificate, key)
        except (OSError, ssl.SSLError) as error:
            raise UnsupportedSetting(f"session.cert={cert!r} is not a PEM certificate and key: {error}") from None
    return context


def _auth(auth: object) -> httpx.Auth | None:
    if auth is None:
        return None
    if isinstance(auth, tuple) and len(auth) == 2:
        return httpx.BasicAuth(*auth)
    if isinstance(auth, requests.auth.HTTPDigestAuth):
        return httpx.DigestAuth(auth.username, auth.password)
    if isinstance(auth, requests.auth.HTTPBasicAuth):
        return httpx.BasicAuth(auth.username, auth.password)
    raise UnsupportedSetting(
        f"session.auth ({type(auth).__name__}) cannot be carried over to the operation calls, which wssc sends "
        "with httpx: give client_options={'http_options': {'auth': <an httpx.Auth>}}"
    )


def httpx_options(session: requests.Session, address: str, timeout: float | None) -> dict[str, Any]:
    """Keyword arguments of ``httpx.Client`` that send to ``address`` as ``session`` would (module docs)."""
    # session.verify and session.cert passed as the request's: an explicit CA wins over REQUESTS_CA_BUNDLE
    # (requests lets the environment win, its issue #3829; zeep users expect the session's)
    merged = session.merge_environment_settings(address, {}, None, session.verify, session.cert)
    options: dict[str, Any] = {
        "verify": ssl_context(merged["verify"], merged["cert"]),
        "headers": {k: v for k, v in session.headers.items() if k.lower() not in _NOT_DEFAULTS},
        "cookies": session.cookies,
        "timeout": timeout,
        "trust_env": False,  # the environment was consulted above, the way requests does
    }
    proxy = select_proxy(address, merged["proxies"])
    if proxy:
        options["proxy"] = proxy
    auth = _auth(session.auth)
    if auth is not None:
        options["auth"] = auth
    return options

"""What zeep's ``wsse=`` plugins wrote into an envelope, taken out before wssc protects it.

zeep applies ``client.wsse`` to the envelope before it calls the transport (``zeep.wsdl.bindings.soap``
``SoapBinding._create``: ``envelope, http_headers = wsse.apply(envelope, http_headers)``), so the envelope
:class:`~wssc.adapters.zeep_transport.WsscTransport` receives already holds a ``wsse:Security`` header; with
``zeep.wsse.username.UsernameToken(user, password)`` it holds the password in clear text.  The transport never
sees ``client.wsse`` itself: it reads that header instead, which works for every way zeep users set a wsse (the
``Client`` argument, a list of plugins, ``client.wsse = ...`` later, ``zeep.AsyncClient``), and removes it.

What it reads (WSS UsernameToken Profile 1.1 section 3.1):

- a ``wsse:UsernameToken`` with ``#PasswordText`` (zeep's default): its user name and password become the
  caller's credentials; wssc sends them in its own UsernameToken, signed and encrypted under the bootstrap
  (WCF's UserNameForCertificate), inside TLS (TransportWithMessageCredential) or beside TLSNEGO (UserNameForSsl);
- a ``wsu:Timestamp`` (``UsernameToken(timestamp_token=...)``): dropped, wssc writes and signs its own.

Everything else is refused by name before anything is sent: a ``#PasswordDigest`` (``use_digest=True``: the
digest cannot be turned back into the password the secure conversation needs), a UsernameToken without a
password, zeep's ``Signature``/``BinarySignature`` (``ds:Signature``, ``wsse:BinarySecurityToken``: the
conversation signs every message itself; the client certificate goes in
:class:`~wssc.conversation.policy_client.ClientCredentials`), and any other element.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from lxml import etree

from wssc import namespaces as ns
from wssc.primitives.xml import Element
from wssc.tokens.username import PASSWORD_DIGEST, PASSWORD_TEXT

#: The namespaces a ``Security`` header is written in: WSS 1.0/1.1 and the drafts before OASIS (2002-2003).
SECURITY_NAMESPACES: Final = frozenset(
    {
        ns.WSSE,
        ns.WSSE11,
        "http://schemas.xmlsoap.org/ws/2002/04/secext",
        "http://schemas.xmlsoap.org/ws/2002/07/secext",
        "http://schemas.xmlsoap.org/ws/2003/06/secext",
    }
)
_SIGNATURE: Final = (ns.qn(ns.DS, "Signature"), ns.qn(ns.WSSE, "BinarySecurityToken"))
_DROPPED: Final = (ns.qn(ns.WSU, "Timestamp"),)


class UnsupportedWsse(ValueError):
    """zeep's ``wsse=`` plugin asks for something the secure conversation cannot carry (refused before sending)."""


@dataclass(frozen=True)
class WsseCredentials:
    """The user name and password of zeep's ``UsernameToken`` (never printed)."""

    username: str
    password: str = field(repr=False)


def is_security_header(element: Element) -> bool:
    """A WS-Security ``Security`` header (any WSS version or draft namespace)."""
    name = etree.QName(element)
    return name.localname == "Security" and name.namespace in SECURITY_NAMESPACES


def take_security_headers(header: Element | None) -> WsseCredentials | None:
    """Remove every ``Security`` header from ``header``; the credentials of the UsernameToken they held, or
    None when there was none.  Raises :class:`UnsupportedWsse` (see the module documentation)."""
    if header is None:
        return None
    found: list[WsseCredentials] = []
    for security in [h for h in header if isinstance(h.tag, str) and is_security_header(h)]:
        header.remove(security)
        for child in security:
            if not isinstance(child.tag, str) or child.tag in _DROPPED:
                continue
            if etree.QName(child).localname == "UsernameToken":
                found.append(_username_token(child))
            elif child.tag in _SIGNATURE:
                raise UnsupportedWsse(
                    "zeep's Signature/BinarySignature wsse cannot be used with WsscTransport: the secure "
                    "conversation signs every message itself; give a client certificate, when the service wants "
                    "one, as ClientCredentials(certificate=..., private_key=...) or ClientCredentials.from_pkcs12()"
                )
            else:
                raise UnsupportedWsse(
                    f"zeep's wsse wrote {etree.QName(child).localname} ({child.tag}) into the Security header: "
                    "WsscTransport carries only a UsernameToken with a clear-text password"
                )
    if len(found) > 1:
        raise UnsupportedWsse("zeep's wsse wrote more than one UsernameToken: give one user name")
    return found[0] if found else None


def _username_token(token: Element) -> WsseCredentials:
    username = (token.findtext(f"{{{etree.QName(token).namespace}}}Username") or "").strip()
    password = token.find(f"{{{etree.QName(token).namespace}}}Password")
    if not username:
        raise UnsupportedWsse("zeep's UsernameToken has no user name")
    if password is None:
        raise UnsupportedWsse(f"zeep's UsernameToken for {username!r} has no password")
    kind = password.get("Type", PASSWORD_TEXT)
    if kind == PASSWORD_DIGEST or kind.endswith("#PasswordDigest"):
        raise UnsupportedWsse(
            f"zeep's UsernameToken for {username!r} sends a PasswordDigest (use_digest=True), which cannot be "
            "turned back into the password the secure conversation carries: use UsernameToken(user, password)"
        )
    if kind != PASSWORD_TEXT and not kind.endswith("#PasswordText"):
        raise UnsupportedWsse(f"zeep's UsernameToken for {username!r} has a password of unknown Type {kind!r}")
    return WsseCredentials(username, password.text or "")

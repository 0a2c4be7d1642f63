"""What a request to the service is, before and after it is verified: a context message, a bootstrap message
(an EncryptedKey: RSA key transport to the service), a Renew request; from its bytes where they prove it, from
its parsed tree otherwise (``SecureConversationService.receive``)."""

from __future__ import annotations

from typing import Final

from wssc import namespaces as ns
from wssc.errors import InvalidSecurity, WsscError
from wssc.primitives.xml import Element, parse
from wssc.security import compiled
from wssc.security.result import VerifiedMessage
from wssc.security.soap import SOAP12, SOAPVersion, soap_version_of
from wssc.tokens.encrypted_key import EK_TAG
from wssc.versions import VERSIONS, SCVersion

#: What the bytes of a request must not hold for :func:`plainly_context_message` to say it is no bootstrap message
#: and no Renew request.  An element name is spelt out in the bytes (XML 1.0 section 2.3: no reference or markup
#: can build one), so a message without ``EncryptedKey`` has no xenc:EncryptedKey.  The text of wsa:Action could
#: spell "Renew" otherwise only through a reference (``&``: a character reference, or one of the five predefined
#: entities, the only ones without a DTD, which is refused anyway), a CDATA section or a comment the parser drops,
#: the text around it read as one (both begin ``<!``).  ``&`` and ``!`` are single bytes, found at memchr speed;
#: neither occurs in base64 (XML Schema base64Binary), and a message holding one is only classified the slow way.
_NOT_IN_PLAIN_CONTEXT_MESSAGES: Final = (b"&", b"!", b"Renew", b"EncryptedKey")


def plainly_context_message(data: bytes) -> bool:
    """Whether the bytes alone prove the request is neither a bootstrap message (no EncryptedKey in any Security
    header: :func:`carries_encrypted_key` would say False) nor a Renew request (its wsa:Action cannot name one):
    then its receiver is known before any parser reads it.  Only for UTF-8 without an XML declaration or a byte
    order mark (XML 1.0 appendix F: a document starting ``<`` and a character other than ``?``), where every name
    is its ASCII bytes; any other message is parsed first, as always.  False answers cost nothing but the fast
    path: such a message is classified on its parsed tree."""
    if data[:1] != b"<" or data[1:2] in (b"?", b"\x00", b""):
        return False
    return not compiled.contains_any(data, _NOT_IN_PLAIN_CONTEXT_MESSAGES)


def soap_of_request(data: bytes) -> SOAPVersion:
    """The SOAP version of a request that failed (for its fault), SOAP 1.2 when it cannot be read."""
    try:
        return soap_version_of(parse(data))
    except WsscError:
        return SOAP12


def carries_encrypted_key(root: Element, soap: SOAPVersion) -> bool:
    """Whether a Security header of the request holds an xenc:EncryptedKey: a bootstrap message (its key is
    transported to the service certificate), which gets the bootstrap's requirements; else a context message."""
    header = root.find(soap.qname("Header"))
    if header is None:
        return False
    return any(h.find(EK_TAG) is not None for h in header.iterchildren(ns.qn(ns.WSSE, "Security")))


def check_classification(message: VerifiedMessage, bootstrap: bool, over_tls: bool) -> None:
    """The key that signed must be of the kind whose requirements were applied: a context message may not
    borrow a bootstrap's requirements by carrying an EncryptedKey it does not sign with, nor a bootstrap
    credential sign a message checked as a context message (wsse:InvalidSecurity, WS-SP 1.2 section 7)."""
    origin = message.signature_key
    if origin is None or (over_tls and not bootstrap):
        return  # TransportWithMessageCredential: TLS protects the message, the context key signs the Timestamp
    if bootstrap != (origin.kind in ("encrypted-key", "x509")):
        raise InvalidSecurity("the message's signing key is not of the kind its tokens announce")


def version_hint(data: bytes) -> SCVersion | None:
    """The protocol version a (possibly unverifiable) request used, from the namespaces it mentions."""
    for version in VERSIONS:
        if version.sc.encode() in data or version.trust.encode() in data:
            return version
    return None

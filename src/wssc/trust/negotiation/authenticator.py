"""The negotiation's Authenticator: the CombinedHash that binds every leg to the issued key (NEGOTIATION.md section 3).

The service proves, in the second RSTR of its final leg, that the key it wrapped belongs to the exchange both
sides saw::

    H            = SHA-1( C(item_1) || ... || C(item_n) )
    CombinedHash = P_SHA1(secret = the proof key, seed = b"AUTH-HASH" || H)[0:32]

``C`` is exclusive XML canonicalisation without comments (``xml-exc-c14n#``) of one RST or RSTR element; the
items are the legs in exchange order: the client's RST, each RSTR either side sent, and the final negotiation RSTR
with its ``RequestedSecurityToken`` and ``RequestedProofToken`` children removed (WCF
``SspiNegotiationTokenProvider`` lines 81-138, ``SspiNegotiationTokenAuthenticator`` lines 111-158, 290-322).
The RSTRC wrapper and the RSTR carrying the Authenticator are never hashed.

Each side hashes what it sent as it serialised it and what it received as it arrived, whitespace included:
elements received are parsed without dropping blank text (:func:`wssc.primitives.xml.parse` keeps it), and the
two removed children keep their neighbours' whitespace (lxml stores it as the removed element's ``tail``).  The
service serialises without whitespace, so its RSTR without the two children equals the client's view.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
from typing import Final

from wssc.primitives.psha1 import p_sha1
from wssc.primitives.xml import Element, c14n, remove_keeping_tail
from wssc.versions import SCVersion

#: The P_SHA1 label of the CombinedHash, the same in both WS-Trust versions (``SM/ServiceModelStringsVersion1.cs:208``).
AUTH_HASH_LABEL: Final = b"AUTH-HASH"
#: CombinedHash length: 256 bits (``SecurityNegotiationConstants.NegotiationAuthenticatorSize``, in bits).
COMBINED_HASH_BYTES: Final = 32
#: The two children of the final negotiation RSTR left out of the hash (``WSTrust.cs:829-837``).
_UNHASHED: Final = ("RequestedSecurityToken", "RequestedProofToken")


class ExchangeHash:
    """The running SHA-1 over the exchanged RST/RSTR elements, in exchange order."""

    def __init__(self) -> None:
        self._sha1 = hashlib.sha1()  # noqa: S324 - WCF's CombinedHash is SHA-1 (NEGOTIATION.md section 3)

    def add(self, element: Element) -> None:
        """Hash one RST or RSTR element as it was sent or received."""
        self._sha1.update(c14n(element))

    def add_final(self, rstr: Element, version: SCVersion) -> None:
        """Hash the final negotiation RSTR without its issued token and proof token (both sides alike)."""
        self.add(without_issued_token(rstr, version))

    def combined_hash(self, key: bytes) -> bytes:
        """The Authenticator's CombinedHash under the issued ``key``."""
        return p_sha1(key, AUTH_HASH_LABEL + self._sha1.digest(), COMBINED_HASH_BYTES)

    def verify(self, key: bytes, presented: bytes) -> bool:
        """Whether ``presented`` is this exchange's CombinedHash; length first, then in constant time."""
        expected = self.combined_hash(key)
        return len(presented) == len(expected) and hmac.compare_digest(presented, expected)


def without_issued_token(rstr: Element, version: SCVersion) -> Element:
    """A detached copy of ``rstr`` without its direct ``RequestedSecurityToken`` and ``RequestedProofToken``
    children; the whitespace around them stays, as ``XmlNode.RemoveChild`` leaves it in .NET."""
    clone = copy.deepcopy(rstr)
    for local in _UNHASHED:
        for child in clone.findall(version.trust_qname(local)):
            remove_keeping_tail(child)
    return clone

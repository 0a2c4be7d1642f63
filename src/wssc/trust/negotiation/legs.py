"""What the negotiation legs carry, for both sides: actions, the leg value, the issued result and the proof token
(NEGOTIATION.md sections 1.1, 1.3, 1.4 and 2.1).

Every leg is an unsecured SOAP message (no ``wsse:Security``, section 1.2) whose body is one RST, one RSTR or,
for the service's final leg, an RSTRC of two RSTRs.  The actions (section 1.1): the client's first leg
``RST/Issue``, every later leg either side sends ``RSTR/Issue``, and the service's final leg ``RSTR/Issue`` in
Feb 2005 WS-Trust but ``RSTRC/IssueFinal`` in WS-Trust 1.3.  Which leg is final is decided by the body element,
never by the action (``SspiNegotiationTokenProvider`` lines 273-299).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from wssc.errors import InvalidRequest
from wssc.primitives.xml import Element
from wssc.tokens.encrypted_key import EncryptedKey
from wssc.tokens.sct import SecurityContextToken
from wssc.trust.elements import Lifetime
from wssc.trust.negotiation.mechanism import NegotiationMechanism
from wssc.trust.rstr import RequestSecurityTokenResponse
from wssc.versions import SC_2005_02, SCVersion

#: The proof key's length WCF's default suite (Basic256) asks for and accepts: 256 bits
#: (``SecurityAlgorithmSuite.DefaultSymmetricKeyLength``, NEGOTIATION.md section 1.3 step 3).
DEFAULT_KEY_SIZE: Final = 256
#: Longest wrapped proof key read (bytes): a GSS wrap token or one TLS record around a key of at most 512 bits
#: is far below this; WCF bounds it only by the message quota.
MAX_WRAPPED_KEY_BYTES: Final = 4096


def first_action(version: SCVersion) -> str:
    """The client's first leg: ``RST/Issue`` (``WSTrust.cs:198-204``)."""
    return version.action("RST/Issue")


def leg_action(version: SCVersion) -> str:
    """Every later leg of either side: ``RSTR/Issue`` (``WSTrust.cs:206-212``)."""
    return version.action("RSTR/Issue")


def final_action(version: SCVersion) -> str:
    """The service's final leg: ``RSTR/Issue`` in Feb 2005, ``RSTRC/IssueFinal`` in 1.3 (``WSTrustDec2005.cs:62``)."""
    return version.action("RSTR/Issue" if version is SC_2005_02 else "RSTRC/IssueFinal")


@dataclass(frozen=True)
class Leg:
    """One leg to send: its WS-Addressing action and its body element (RST, RSTR or RSTRC).

    Put ``body`` into the envelope as it is: the CombinedHash already covers its canonical form."""

    action: str
    body: Element


@dataclass(frozen=True)
class Negotiated:
    """A negotiated security context: the SCT, its key (the unwrapped or wrapped proof), its lifetime and the
    mechanism that authenticated the peer (its identity, peer certificate and so on)."""

    token: SecurityContextToken
    key: bytes = field(repr=False)
    lifetime: Lifetime | None
    version: SCVersion
    mechanism: NegotiationMechanism = field(repr=False)
    #: the wst:Context of the exchange
    context: str = ""


def proof_token(response: RequestSecurityTokenResponse, wrap_algorithm: str) -> bytes:
    """The wrapped key of a final RSTR read in ServerEntropy mode (``WSTrust.cs:668-733``,
    ``WSSecurityJan2004.cs:528-541``): an ``xenc:EncryptedKey`` whose EncryptionMethod is the mechanism's wrap, and
    no ``wst:Entropy`` beside it."""
    if response.entropy is not None:
        raise InvalidRequest("a negotiated key comes from the service alone: the final RSTR may not carry Entropy")
    proof = response.requested_proof_token
    if not isinstance(proof, EncryptedKey):
        raise InvalidRequest("the final RSTR's proof token is not an EncryptedKey wrapped by the negotiation")
    if proof.algorithm != wrap_algorithm:
        raise InvalidRequest(f"the proof token is wrapped with {proof.algorithm!r}, not {wrap_algorithm!r}")
    if not 0 < len(proof.cipher_value) <= MAX_WRAPPED_KEY_BYTES:
        raise InvalidRequest("the wrapped proof key has an implausible length")
    return proof.cipher_value


def wrapped_proof(algorithm: str, blob: bytes) -> EncryptedKey:
    """The proof token WCF writes: no Id, no KeyInfo, no CarriedKeyName (section 2.1)."""
    return EncryptedKey(algorithm=algorithm, cipher_value=blob)

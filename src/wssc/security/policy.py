"""What a sender applies and what a receiver demands (WS-SecurityPolicy 1.2 sections 6-7, as plain values).

:class:`ProtectionPolicy` is the sender's SymmetricBinding; :class:`Requirements` is what a receiver checks
after verification.  Secure defaults: sign and encrypt, derived keys, encrypted signature, Basic256,
signed Timestamp, Body and WS-Addressing headers (WCF's ``wsHttpBinding`` defaults, SPEC-NOTES section 11).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import Enum

from wssc.limits import MAX_CLOCK_SKEW, TIMESTAMP_VALIDITY
from wssc.primitives.algorithms import BASIC256, AlgorithmSuite


class ProtectionOrder(Enum):
    """``sp:SignBeforeEncrypting`` (default) or ``sp:EncryptBeforeSigning`` (WS-SP 1.2 section 6.3)."""

    SIGN_BEFORE_ENCRYPT = "sign-before-encrypt"
    ENCRYPT_BEFORE_SIGN = "encrypt-before-sign"


@dataclass(frozen=True)
class ProtectionPolicy:
    suite: AlgorithmSuite = BASIC256
    sign: bool = True
    encrypt: bool = True
    #: ``sp:RequireDerivedKeys``: sign and encrypt with keys derived from the protection token
    derived_keys: bool = True
    #: ``sp:EncryptSignature`` (WCF's default): the ds:Signature itself is encrypted
    encrypt_signature: bool = True
    order: ProtectionOrder = ProtectionOrder.SIGN_BEFORE_ENCRYPT
    include_timestamp: bool = True
    timestamp_ttl: timedelta = TIMESTAMP_VALIDITY
    #: sign the Body (off only under a transport binding, where the context key signs just the Timestamp)
    sign_body: bool = True
    #: sign every WS-Addressing header present (WCF's bootstrap and application SignedParts)
    sign_addressing_headers: bool = True
    #: further SOAP headers to sign, as Clark names ``{ns}local``
    signed_headers: tuple[str, ...] = ()
    #: SOAP headers to encrypt (XML-Enc ``#Element``), as Clark names
    encrypted_headers: tuple[str, ...] = ()
    #: ``sp:ProtectTokens``: the signature also covers the protection token when it is in the message
    protect_tokens: bool = False
    #: use the AES-GCM variant of the suite's cipher (XML Encryption 1.1) instead of CBC
    use_gcm: bool = False

    def __post_init__(self) -> None:
        if not (self.sign or self.encrypt):
            raise ValueError("a protection policy must sign, encrypt, or both")


@dataclass(frozen=True)
class Requirements:
    """What an incoming message must show; anything short is rejected with the spec's fault."""

    signature: bool = True
    signed_body: bool = True
    #: the Body must at least be signed or encrypted with the message's keys
    protected_body: bool = True
    timestamp: bool = True
    signed_timestamp: bool = True
    #: every WS-Addressing header present must be signed
    signed_addressing_headers: bool = True
    encrypted_body: bool = False
    #: further headers (Clark names) that must be present and signed
    signed_headers: tuple[str, ...] = ()
    #: demand derived keys rather than the context key itself (``sp:RequireDerivedKeys``)
    derived_keys: bool = False
    max_clock_skew: timedelta = MAX_CLOCK_SKEW
    #: the only suite whose algorithms are acceptable; None accepts any supported suite's algorithms
    suite: AlgorithmSuite | None = None
    #: reject a message whose signature value was seen before (within the Timestamp's life)
    detect_replays: bool = True
    #: HTTPS protects the message (``sp:TransportBinding``): accept messages that are neither signed nor
    #: encrypted at the message level.  Only ever set this for requests that did arrive over TLS.
    transport_protected: bool = False
    #: Identifier of the only context this receiver accepts (None: any context the resolver knows)
    context_identifier: str | None = None
    #: ``sp:EncryptSignature`` (WS-SP 1.2 section 6.4): the primary signature must arrive encrypted
    encrypted_signature: bool = False
    #: how an EncryptedKey may name the recipient's certificate (``thumbprint``, ``issuer-serial``, ``ski``;
    #: WS-SP 1.2 section 5.4.3 ``sp:RequireThumbprintReference`` and friends); None accepts every form.
    #: The key transport algorithm itself is the ``suite``'s ``asymmetric_key_wrap``.
    key_references: frozenset[str] | None = None


#: What a context (or bootstrap) message carries under HTTPS (WCF TransportWithMessageCredential): the
#: context key signs the Timestamp, directly, no derived keys; TLS protects the Body.
TRANSPORT_POLICY = ProtectionPolicy(encrypt=False, derived_keys=False, sign_body=False, sign_addressing_headers=False)
#: The matching receiver requirements; use them only for requests that arrived over TLS.
TRANSPORT_REQUIREMENTS = Requirements(
    signature=False,
    signed_body=False,
    protected_body=False,
    signed_addressing_headers=False,
    transport_protected=True,
)

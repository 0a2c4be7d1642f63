"""Named limits, each with its precedent (WCF's defaults unless said otherwise).

Every limit is a field of :class:`Limits` so that a deployment can tighten or relax it explicitly;
the module-level constants are the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

#: WCF ``LocalServiceSecuritySettings.MaxClockSkew`` / ``LocalClientSecuritySettings.MaxClockSkew``: 5 minutes.
MAX_CLOCK_SKEW: Final = timedelta(minutes=5)
#: WCF ``SecurityProtocolFactory.defaultTimestampValidityDuration``: a Timestamp lives 5 minutes.
TIMESTAMP_VALIDITY: Final = timedelta(minutes=5)
#: WCF ``MaximumKeyDerivationOffset``: offset (or generation x length) of a derived key, in bytes.
MAX_DERIVATION_OFFSET: Final = 64
#: WCF ``MaximumKeyDerivationLabelLength``, in characters.
MAX_DERIVATION_LABEL: Final = 128
#: WCF ``MaximumKeyDerivationNonceLength``, in bytes.
MAX_DERIVATION_NONCE: Final = 128
#: Longest derived key we agree to produce (bytes); the largest suite key is 256 bits, HMAC keys may be
#: longer, WSS4J caps nothing.  512 bits leaves room for SHA-512 HMAC keys.
MAX_DERIVED_KEY_LENGTH: Final = 64
#: WCF ``SecurityProtocolFactory`` nonce length for derived keys: 16 bytes.
DERIVATION_NONCE_LENGTH: Final = 16
#: WCF ``TransportDefaults.MaxReceivedMessageSize`` is 65,536 bytes, which breaks ordinary business
#: payloads; we follow WCF's ``MaxBufferPoolSize`` order instead, 4 MiB, and make it configurable.
MAX_MESSAGE_BYTES: Final = 4 * 1024 * 1024
#: WCF ``XmlDictionaryReaderQuotas.MaxDepth``: 32 nested elements.
MAX_XML_DEPTH: Final = 32
#: WCF ``SecurityProtocolFactory.MaxCachedNonces`` for replay detection: 900,000 entries.
MAX_CACHED_NONCES: Final = 900_000
#: Elements in one wsse:Security header (WCF ``MaxSecurityHeaderElements`` is not exposed; WSS4J has none).
#: A bound keeps a hostile header from making us resolve thousands of tokens.
MAX_SECURITY_HEADER_ELEMENTS: Final = 64
#: References in one ds:SignedInfo (WSS4J ``MAX_SIGNATURE_REFERENCES`` is 100 since 2.0; WCF has no limit).
MAX_SIGNATURE_REFERENCES: Final = 100
#: Signatures in one message: the message signature and at most four endorsing it (WS-SP 1.2 section 8:
#: WCF's bindings use at most two, the X.509 endorsing token and the context's; WSS4J has no limit).  Every
#: further one is refused before its digests are computed.
MAX_SIGNATURES: Final = 5
#: EncryptedKeys in one message: the one protection token of the symmetric bootstrap or the asymmetric binding
#: (WS-SP 1.2 sections 7.4-7.5; WCF sends one); each costs an RSA private-key operation.
MAX_ENCRYPTED_KEYS: Final = 1
#: Canonical bytes a message's signatures may digest, per byte of the message, plus a fixed allowance: a
#: legitimate message digests its disjoint signed parts once (exclusive c14n grows them a little: ``<a/>``
#: becomes ``<a></a>``); a hostile one names nested subtrees to have its input canonicalised many times over.
#: No precedent in WCF or WSS4J, which digest while reading; 4x keeps the worst case within 10x a legitimate one.
DIGESTED_BYTES_PER_MESSAGE_BYTE: Final = 4
DIGESTED_BYTES_ALLOWANCE: Final = 64 * 1024
#: WCF ``LocalServiceSecuritySettings.ReplayWindow`` (``SecurityProtocolFactory.defaultReplayWindow``): 5
#: minutes.  A Timestamp created before now - (ReplayWindow + MaxClockSkew) is refused as expired, with or
#: without Expires (WCF ``SecurityTimestamp.ValidateFreshness``, "TimeStampWasCreatedTooLongAgo"), so a
#: message is acceptable for at most that long and replay detection need remember it no longer.
REPLAY_WINDOW: Final = timedelta(minutes=5)
#: WCF ``LocalServiceSecuritySettings.MaxPendingSessions``: 128 contexts issued but not yet used by any
#: message under their key (a flood of anonymous Issue requests occupies at most this many places).
MAX_PENDING_CONTEXTS: Final = 128
#: WCF ``LocalServiceSecuritySettings.InactivityTimeout``: 2 minutes; a context issued and never used for
#: that long is dropped (WCF aborts such a pending session).
INACTIVITY_TIMEOUT: Final = timedelta(minutes=2)


@dataclass(frozen=True)
class Limits:
    """The limits one receiver enforces; defaults are the constants above."""

    max_clock_skew: timedelta = MAX_CLOCK_SKEW
    max_derivation_offset: int = MAX_DERIVATION_OFFSET
    max_derivation_label: int = MAX_DERIVATION_LABEL
    max_derivation_nonce: int = MAX_DERIVATION_NONCE
    max_derived_key_length: int = MAX_DERIVED_KEY_LENGTH
    max_message_bytes: int = MAX_MESSAGE_BYTES
    max_xml_depth: int = MAX_XML_DEPTH
    max_security_header_elements: int = MAX_SECURITY_HEADER_ELEMENTS
    max_signature_references: int = MAX_SIGNATURE_REFERENCES
    max_signatures: int = MAX_SIGNATURES
    max_encrypted_keys: int = MAX_ENCRYPTED_KEYS
    digested_bytes_per_message_byte: int = DIGESTED_BYTES_PER_MESSAGE_BYTE

    def digest_budget(self, message_bytes: int | None) -> int:
        """The digest budget of a message of ``message_bytes`` (None: a tree handed over already parsed)."""
        size = self.max_message_bytes if message_bytes is None else message_bytes
        return self.digested_bytes_per_message_byte * size + DIGESTED_BYTES_ALLOWANCE


DEFAULT_LIMITS: Final = Limits()

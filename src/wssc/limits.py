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


DEFAULT_LIMITS: Final = Limits()

"""Calling the compiled protect (``wssc._core.protect``) the way the glue does, for the tests: a
``ProtectionPolicy`` and a protection token turned into the core's arguments (docs/core.md, the API)."""

from __future__ import annotations

from datetime import datetime, timezone
from types import ModuleType

from lxml import etree

from wssc.primitives.xsdtime import format_time
from wssc.security.keys import ProtectionToken
from wssc.security.policy import ProtectionOrder, ProtectionPolicy
from wssc.security.protect import _GCM_OF, ProtectedMessage
from wssc.versions import SC_1_3, SCVersion


def load_core() -> ModuleType | None:
    try:
        from wssc import _core
    except ImportError:
        return None
    return _core if hasattr(_core, "protect") else None


def options(policy: ProtectionPolicy) -> dict[str, object]:
    suite = policy.suite
    encryption = _GCM_OF.get(suite.encryption, suite.encryption) if policy.use_gcm else suite.encryption
    return {
        "signature": suite.symmetric_signature,
        "digest": suite.digest,
        "encryption": encryption,
        "signature_key_length": suite.signature_key_length,
        "encryption_key_length": suite.encryption_key_length,
        "sign": policy.sign,
        "encrypt": policy.encrypt,
        "derived_keys": policy.derived_keys,
        "encrypt_signature": policy.encrypt_signature,
        "encrypt_before_sign": policy.order is ProtectionOrder.ENCRYPT_BEFORE_SIGN,
        "include_timestamp": policy.include_timestamp,
        "sign_body": policy.sign_body,
        "sign_addressing_headers": policy.sign_addressing_headers,
        "signed_headers": list(policy.signed_headers),
        "encrypted_headers": list(policy.encrypted_headers),
        "protect_tokens": policy.protect_tokens,
    }


def core_protect(
    envelope: bytes,
    token: ProtectionToken,
    policy: ProtectionPolicy | None = None,
    *,
    version: SCVersion = SC_1_3,
    now: datetime | None = None,
    signature_confirmations: tuple[bytes | None, ...] = (),
) -> ProtectedMessage:
    """``protect.protect`` through the core (raises ``_core.Declined`` where the core declines)."""
    core = load_core()
    assert core is not None
    policy = policy or ProtectionPolicy()
    now = now or datetime.now(timezone.utc)
    token_el = token.header_token(etree.Element("x"))
    data, value = core.protect(
        envelope,
        token.secret,
        token_xml=None if token_el is None else etree.tostring(token_el, encoding="unicode"),
        reference_xml=token.reference(version).to_xml(),
        sc_namespace=version.sc,
        label=None,
        options=options(policy),
        created=format_time(now),
        expires=format_time(now + policy.timestamp_ttl),
        confirmations=list(signature_confirmations),
    )
    return ProtectedMessage(data, value)

"""Protect through the compiled core (docs/core.md): the glue between :func:`wssc.security.protect.protect`
and ``wssc._core.protect``.

The core writes the same layout as the Python path (WS-SP 1.2 section 7.4 symmetric binding, ``sp:Strict``)
for bytes in and a symmetric protection token; endorsing and supporting tokens and an asymmetric signer
stay on the Python path, as does whatever the core declines.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from types import ModuleType
from typing import Any, TypeVar

from lxml import etree

from wssc.primitives import algorithms as alg
from wssc.primitives.memo import remembered
from wssc.primitives.xsdtime import format_time
from wssc.security.keys import ContextProtection, ProtectionToken
from wssc.security.policy import ProtectionOrder, ProtectionPolicy
from wssc.versions import SCVersion

_log = logging.getLogger(__name__)
T = TypeVar("T")
#: per-object caches (keyed by id, the object kept alongside so that the id cannot be reused meanwhile)
_CACHED = 256
_OPTIONS: dict[int, tuple[ProtectionPolicy, dict[str, Any]]] = {}
_PREPARED: dict[int, tuple[ProtectionPolicy, Any]] = {}
_TOKEN_TEXTS: dict[tuple[object, ...], tuple[str | None, str]] = {}


def _per_policy(cache: dict[int, tuple[ProtectionPolicy, T]], policy: ProtectionPolicy, make: Callable[[], T]) -> T:
    """``make()`` once per policy object (ProtectionPolicy is frozen), remembered in ``cache``."""
    known = cache.get(id(policy))
    if known is not None and known[0] is policy:
        return known[1]
    if len(cache) >= _CACHED:
        cache.clear()
    value = make()
    cache[id(policy)] = (policy, value)
    return value


def core_options(policy: ProtectionPolicy) -> dict[str, Any]:
    """``policy`` as the core reads it, converted once per policy object."""
    return _per_policy(_OPTIONS, policy, lambda: _options(policy))


def prepared_options(core: ModuleType, policy: ProtectionPolicy) -> Any:
    """:func:`core_options` made into the core's ``ProtectOptions`` once per policy object, so that the core does
    not read the dict at every message."""
    return _per_policy(_PREPARED, policy, lambda: core.ProtectOptions(core_options(policy)))


def _options(policy: ProtectionPolicy) -> dict[str, Any]:
    suite = policy.suite
    cipher = alg.gcm_variant(suite.encryption) if policy.use_gcm else suite.encryption
    return {
        "signature": suite.symmetric_signature,
        "digest": suite.digest,
        "encryption": cipher,
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


def protect(
    core: ModuleType,
    envelope: bytes,
    token: ProtectionToken,
    policy: ProtectionPolicy,
    version: SCVersion,
    now: datetime,
    signature_confirmations: tuple[bytes | None, ...],
) -> tuple[bytes, bytes | None] | None:
    """The protected envelope and its signature value, or None when the Python path is to protect it."""
    try:
        return call(core, envelope, token, policy, version, now, signature_confirmations)
    except core.Declined as declined:
        _log.debug("compiled core declined to protect the message: %s", declined)
        return None


def call(
    core: ModuleType,
    envelope: bytes,
    token: ProtectionToken,
    policy: ProtectionPolicy,
    version: SCVersion,
    now: datetime,
    signature_confirmations: tuple[bytes | None, ...],
) -> tuple[bytes, bytes | None]:
    """``wssc._core.protect`` with the arguments :func:`protect` gives it; raises ``core.Declined``."""
    token_xml, reference_xml = token_texts(token, version)
    return core.protect(  # type: ignore[no-any-return]
        envelope,
        token.secret,
        token_xml=token_xml,
        reference_xml=reference_xml,
        sc_namespace=version.sc,
        label=None,
        options=prepared_options(core, policy),
        created=format_time(now),
        expires=format_time(now + policy.timestamp_ttl),
        confirmations=list(signature_confirmations),
    )


def token_texts(token: ProtectionToken, version: SCVersion) -> tuple[str | None, str]:
    """The protection token's XML (None when referenced, not carried) and its reference's, written once per
    context token: a client's SCT object lives as long as its context, and a service answers each context
    under the same external reference (``ContextProtection`` objects themselves are made per message)."""
    if isinstance(token, ContextProtection) and token.sct.source is None:
        sct = token.sct
        key = (sct.identifier, sct.instance, sct.wsu_id, sct.version.sc, token.style, version.sc)
        return remembered(_TOKEN_TEXTS, key, lambda: _written_texts(token, version), _CACHED)
    # an SCT echoed verbatim (its source element, extensions and all) is written anew each time
    return _written_texts(token, version)


def _written_texts(token: ProtectionToken, version: SCVersion) -> tuple[str | None, str]:
    """:func:`token_texts`, written."""
    token_el = token.header_token(etree.Element("x"))
    return (
        None if token_el is None else etree.tostring(token_el, encoding="unicode"),
        token.reference(version).to_xml(),
    )

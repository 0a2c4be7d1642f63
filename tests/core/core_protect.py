"""The compiled protect (``wssc._core.protect``) called exactly as the glue calls it, but with its refusal
(``Declined``) raised rather than turned into the Python path: what the tests of the core itself need."""

from __future__ import annotations

from datetime import datetime, timezone
from types import ModuleType

from wssc.primitives.xsdtime import format_time
from wssc.security import compiled_protect
from wssc.security.keys import ProtectionToken
from wssc.security.policy import ProtectionPolicy
from wssc.security.protect import ProtectedMessage
from wssc.versions import SC_1_3, SCVersion


def load_core() -> ModuleType | None:
    try:
        from wssc import _core
    except ImportError:
        return None
    return _core if hasattr(_core, "protect") else None


def options(policy: ProtectionPolicy) -> dict[str, object]:
    return compiled_protect.core_options(policy)


def core_protect(
    envelope: bytes,
    token: ProtectionToken,
    policy: ProtectionPolicy | None = None,
    *,
    version: SCVersion = SC_1_3,
    now: datetime | None = None,
    signature_confirmations: tuple[bytes | None, ...] = (),
) -> ProtectedMessage:
    core = load_core()
    assert core is not None
    policy = policy or ProtectionPolicy()
    now = now or datetime.now(timezone.utc)
    token_xml, reference_xml = compiled_protect.token_texts(token, version)
    data, value = core.protect(
        envelope,
        token.secret,
        token_xml=token_xml,
        reference_xml=reference_xml,
        sc_namespace=version.sc,
        label=None,
        options=compiled_protect.core_options(policy),
        created=format_time(now),
        expires=format_time(now + policy.timestamp_ttl),
        confirmations=list(signature_confirmations),
    )
    return ProtectedMessage(data, value)

"""The compiled protect (``wssc._core.protect``) called exactly as the glue calls it, but with its refusal
(``Declined``) raised rather than turned into the Python path: what the tests of the core itself need."""

from __future__ import annotations

from datetime import datetime, timezone
from types import ModuleType

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
    data, value = compiled_protect.call(
        core, envelope, token, policy, version, now or datetime.now(timezone.utc), signature_confirmations
    )
    return ProtectedMessage(data, value)

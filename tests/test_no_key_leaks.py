"""Key material never appears in the repr of the objects that hold it (logs and tracebacks show reprs)."""

from __future__ import annotations

import os
from datetime import datetime, timezone

from wssc.conversation.context import SecurityContext
from wssc.security.keys import ContextProtection, EncryptedKeyProtection, ReferencedKeyProtection
from wssc.tokens import reference as strs
from wssc.tokens.encrypted_key import EncryptedKey
from wssc.tokens.sct import SecurityContextToken
from wssc.tokens.x509 import X509Token, self_signed
from wssc.trust.elements import BinarySecret, RequestType
from wssc.trust.entropy import EntropyMode, issue_key
from wssc.trust.rst import RequestSecurityToken
from wssc.trust.rstr import RequestSecurityTokenResponse


def _hidden(secret: bytes, *objects: object) -> None:
    for obj in objects:
        text = repr(obj)
        assert secret.hex() not in text and repr(secret) not in text, text


def test_secrets_are_not_in_reprs() -> None:
    key = os.urandom(32)
    sct = SecurityContextToken("urn:uuid:repr", wsu_id="SCT-1")
    cert, _ = self_signed("repr")
    ek, ek_secret = EncryptedKey.create(cert, X509Token(cert).reference("thumbprint"), secret=key)
    context = SecurityContext.new(key, datetime.now(timezone.utc))
    _hidden(
        key,
        ContextProtection(sct, key),
        EncryptedKeyProtection(ek, ek_secret),
        ReferencedKeyProtection(key, strs.local("x")),
        context,
        context.renewed(os.urandom(32), datetime.now(timezone.utc)),
        BinarySecret(key),
        RequestSecurityToken(RequestType.ISSUE, entropy=key),
        RequestSecurityTokenResponse(entropy=key, requested_proof_token=BinarySecret(key)),
    )
    issued = issue_key(RequestSecurityToken(RequestType.ISSUE, entropy=key), EntropyMode.CLIENT)
    _hidden(key, issued)

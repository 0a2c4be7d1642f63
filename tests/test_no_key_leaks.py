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


def test_client_settings_hold_no_credentials() -> None:
    """A configured client can be logged: its settings compare by value and their repr shows no password or
    key of the bootstrap binding (which the settings do not hold)."""
    from dataclasses import fields
    from datetime import timedelta

    from wssc.conversation.bootstrap import ClientBootstrap
    from wssc.conversation.client import ClientSession
    from wssc.conversation.client_settings import ClientSettings
    from wssc.security.soap import SOAP11
    from wssc.versions import SC_2005_02

    service, _ = self_signed("settings service")
    client_cert, client_key = self_signed("settings client")
    password = "correct horse battery staple"
    bootstrap = ClientBootstrap(service, "alice", password, client_certificate=client_cert, client_key=client_key)
    settings = ClientSettings(
        version=SC_2005_02,
        soap=SOAP11,
        entropy_mode=EntropyMode.CLIENT,
        key_size=512,
        renewal_interval=timedelta(hours=1),
        establish_security_context=False,
        issuer_address="https://sts/issue",
        over_tls=True,
        requested_lifetime=timedelta(minutes=5),
    )
    session = ClientSession(bootstrap, "https://svc/echo", settings)
    assert session.settings == settings and hash(session.settings) == hash(settings)
    assert settings != ClientSettings() and ClientSettings() == ClientSettings()
    text = repr(session.settings)
    assert "ClientSettings(" in text and "https://sts/issue" in text
    assert password not in text and "alice" not in text
    assert "bootstrap" not in {f.name for f in fields(ClientSettings)}
    assert all(getattr(settings, f.name) is not bootstrap for f in fields(settings))
    key_bytes = client_key.private_numbers().d.to_bytes(256, "big")
    _hidden(key_bytes, session.settings)
    assert str(client_key.private_numbers().d) not in text

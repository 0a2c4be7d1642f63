"""SPNEGO sans I/O (wssc.trust.negotiation.spnego): Kerberos against a real MIT KDC on loopback, NTLM without one.

NEGOTIATION.md sections 1.5 (leg patterns: Kerberos one round trip, NTLM two), 2.2 (GSS_Wrap: the acceptor's
first wrap, sealed; NTLM = 16-byte signature || sealed key), 6 (target names, mutual authentication, AllowNtlm)
and 7 (refusals are FailedAuthentication, malformed legs InvalidRequest); the test plan of section 11 items 3-4.
The ``kdc`` fixture (tests/conftest.py, tests/kdc_support.py) skips the Kerberos tests without MIT Kerberos.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from spnego import ContextReq
from spnego._context import GSSMech, WrapResult
from spnego._spnego import NegState, NegTokenResp

from kdc_support import KdcRealm
from wssc.errors import FailedAuthentication, InvalidRequest, RequestFailed
from wssc.trust.negotiation import SPNEGO, NegotiationMechanism, SpnegoAcceptor, SpnegoInitiator, target_name
from wssc.trust.negotiation import spnego as module
from wssc.trust.negotiation.spnego import MAX_KEY_BYTES, MAX_TOKEN_BYTES

KEY = bytes(range(32))
NTLM_USERS = {"WSSC\\alice": "ntlm-Pa55word", "carol@wssc.test": "carol-Pa55word"}


def negotiate(initiator: SpnegoInitiator, acceptor: SpnegoAcceptor) -> list[bytes]:
    """Run the legs to completion as WCF does (section 1.3): the tokens in wire order."""
    tokens: list[bytes] = []
    token = initiator.step(None)
    while token is not None:
        tokens.append(token)
        reply = acceptor.step(token)
        if reply is None:
            break
        tokens.append(reply)
        token = initiator.step(reply)
    assert initiator.complete and acceptor.complete
    return tokens


def ntlm_pair(**acceptor: object) -> tuple[SpnegoInitiator, SpnegoAcceptor]:
    initiator = SpnegoInitiator("host/localhost", username="WSSC\\alice", password="ntlm-Pa55word", protocol="ntlm")
    return initiator, SpnegoAcceptor(**{"ntlm_users": NTLM_USERS, **acceptor})  # type: ignore[arg-type]


# --- target names (section 6.2) ---------------------------------------------------------------------------------


def test_target_name_follows_wcf_identity_rules() -> None:
    spn = "HTTP/svc.example.com@EXAMPLE.COM"
    assert target_name(spn=spn, upn="svc@example.com") == spn
    assert target_name(upn="svc@example.com", dns="ignored") == "svc@example.com"
    assert target_name(dns="svc.example.com", url_host="other") == "host/svc.example.com"
    assert target_name(url_host="10.0.0.1") == "host/10.0.0.1"
    with pytest.raises(ValueError, match="no Spn"):
        target_name()


def test_constructors_refuse_contradictions() -> None:
    with pytest.raises(ValueError):
        SpnegoInitiator("host/x", protocol="digest")
    with pytest.raises(ValueError):
        SpnegoInitiator("host/x", protocol="ntlm", allow_ntlm=False)
    with pytest.raises(ValueError):
        SpnegoInitiator("host/x", password="secret")
    with pytest.raises(ValueError):
        SpnegoInitiator("host x")
    with pytest.raises(ValueError):
        SpnegoAcceptor(spn="localhost")
    with pytest.raises(ValueError):
        SpnegoAcceptor(ntlm_users={"WSSC\\a:b": "pw"})
    with pytest.raises(ValueError):
        SpnegoAcceptor(ntlm_users={"WSSC\\alice": "pass:word"})
    with pytest.raises(ValueError):
        SpnegoAcceptor(ntlm_users="/nonexistent/ntlm-users")


# --- Kerberos with the KDC (sections 1.5, 2.2, 6) -----------------------------------------------------------------


def test_the_realm_fixture(kdc: KdcRealm) -> None:
    """What other modules rely on: this process points at the realm, the user has a ticket, tools run in it."""
    assert os.environ["KRB5_CONFIG"] == kdc.env["KRB5_CONFIG"] == str(kdc.krb5_conf)
    assert kdc.user in kdc.run("klist").stdout
    keys = kdc.run("klist", "-k", str(kdc.keytab)).stdout
    assert all(service in keys for service in (*kdc.services, kdc.service_account))


@pytest.mark.parametrize(
    "target",
    ["host/localhost", "HTTP/localhost", "HTTP/localhost@WSSC.TEST", "upn", target_name(dns="localhost")],
)
def test_kerberos_one_round_trip_with_mutual_auth_and_gss_wrap(kdc: KdcRealm, target: str) -> None:
    initiator = SpnegoInitiator(kdc.service_account if target == "upn" else target)  # the credential cache
    acceptor = SpnegoAcceptor()  # KRB5_KTNAME
    assert isinstance(initiator, NegotiationMechanism) and initiator.mechanism == SPNEGO
    first = initiator.step(None)
    assert first is not None and not initiator.complete
    reply = acceptor.step(first)  # NegTokenResp(accept-completed, AP-REP): the final RSTRC's BinaryExchange
    assert reply is not None and acceptor.complete
    assert initiator.step(reply) is None and initiator.complete
    assert initiator.negotiated_protocol == acceptor.negotiated_protocol == "kerberos"
    assert initiator.mutual_authenticated
    assert acceptor.client_principal == kdc.user
    assert acceptor.peer_identity == ("kerberos", kdc.user)
    blob = acceptor.wrap_key(KEY)
    assert blob[:2] == b"\x05\x04" and blob[2] & 0x03 == 0x03  # RFC 4121 Wrap token: SentByAcceptor, Sealed
    assert initiator.unwrap_key(blob) == KEY


def test_kerberos_password_login_in_each_name_form(kdc: KdcRealm) -> None:
    for username in (kdc.other_user, "WSSC\\" + kdc.other_user.split("@")[0]):
        initiator = SpnegoInitiator(
            "HTTP/localhost", username=username, password=kdc.other_password, protocol="kerberos"
        )
        acceptor = SpnegoAcceptor(keytab=kdc.keytab, protocol="kerberos")
        assert len(negotiate(initiator, acceptor)) == 2
        assert acceptor.peer_identity == ("kerberos", kdc.other_user)
        assert initiator.unwrap_key(acceptor.wrap_key(KEY[:16])) == KEY[:16]


def test_kerberos_acceptor_restricted_to_its_spn(kdc: KdcRealm) -> None:
    negotiate(SpnegoInitiator("HTTP/localhost"), SpnegoAcceptor(spn="HTTP/localhost@WSSC.TEST"))
    acceptor = SpnegoAcceptor(spn="HTTP/localhost")
    with pytest.raises(FailedAuthentication):
        acceptor.step(SpnegoInitiator("host/localhost").step(None))
    with pytest.raises(FailedAuthentication, match="already failed"):
        acceptor.step(b"\x60\x00")


def test_kerberos_acceptor_without_the_service_key_refuses(kdc: KdcRealm, tmp_path: Path) -> None:
    other = tmp_path / "host-only.keytab"
    kdc.kadmin(f"ktadd -k {other} -norandkey host/localhost")
    acceptor = SpnegoAcceptor(keytab=other)
    with pytest.raises(FailedAuthentication):
        acceptor.step(SpnegoInitiator("HTTP/localhost").step(None))
    assert os.environ["KRB5_KTNAME"] == kdc.env["KRB5_KTNAME"]  # the acceptor's keytab was scoped to its step


@pytest.mark.parametrize(
    ("target", "username", "password"),
    [
        ("HTTP/localhost", "alice@WSSC.TEST", "wrong-password"),
        ("HTTP/localhost", "nobody@WSSC.TEST", "whatever"),
        ("HTTP/nowhere@WSSC.TEST", None, None),
        ("nobody@WSSC.TEST", None, None),
    ],
    ids=["wrong-password", "unknown-user", "unknown-service", "unknown-upn"],
)
def test_kerberos_refusals_are_failed_authentication(
    kdc: KdcRealm, target: str, username: str | None, password: str | None
) -> None:
    initiator = SpnegoInitiator(target, username=username, password=password, protocol="kerberos")
    with pytest.raises(FailedAuthentication) as raised:
        initiator.step(None)
    assert "wrong-password" not in str(raised.value)
    with pytest.raises(FailedAuthentication, match="already failed"):
        initiator.step(None)


def test_negotiate_falls_back_to_ntlm_only_when_allowed(kdc: KdcRealm) -> None:
    """No Kerberos ticket for this name (the KDC refuses the password): Negotiate offers NTLM alone (section 6.3)."""
    initiator = SpnegoInitiator("HTTP/localhost", username="WSSC\\alice", password="ntlm-Pa55word")
    acceptor = SpnegoAcceptor(ntlm_users=NTLM_USERS)
    assert len(negotiate(initiator, acceptor)) == 4
    assert acceptor.peer_identity == ("ntlm", "WSSC\\alice")
    refused = SpnegoInitiator("HTTP/localhost", username="WSSC\\alice", password="ntlm-Pa55word", allow_ntlm=False)
    with pytest.raises(FailedAuthentication, match="NTLM is not allowed"):
        refused.step(None)


def test_kerberos_only_acceptor_refuses_ntlm(kdc: KdcRealm) -> None:
    initiator, _ = ntlm_pair()
    acceptor = SpnegoAcceptor(ntlm_users=NTLM_USERS, protocol="kerberos")
    with pytest.raises(FailedAuthentication):
        acceptor.step(initiator.step(None))


def test_ntlm_only_acceptor_declines_kerberos(kdc: KdcRealm) -> None:
    acceptor = SpnegoAcceptor(protocol="ntlm", ntlm_users=NTLM_USERS)
    with pytest.raises(FailedAuthentication):
        acceptor.step(SpnegoInitiator("HTTP/localhost", protocol="kerberos").step(None))


def test_initiator_without_ntlm_refuses_a_service_choosing_ntlm(kdc: KdcRealm) -> None:
    initiator = SpnegoInitiator("HTTP/localhost", allow_ntlm=False)
    initiator.step(None)
    challenge = NegTokenResp(
        neg_state=NegState.accept_incomplete, supported_mech=GSSMech.ntlm.value, response_token=b"NTLMSSP\x00"
    ).pack()
    with pytest.raises(FailedAuthentication, match="chose NTLM"):
        initiator.step(challenge)


@pytest.mark.parametrize("protocol", ["kerberos", "ntlm"])
def test_forged_accept_completed_without_the_mechanism_token(kdc: KdcRealm, protocol: str) -> None:
    """A service claiming completion without AP-REP (or without NTLM's exchange) authenticates nothing."""
    username, password = (None, None) if protocol == "kerberos" else ("WSSC\\alice", "ntlm-Pa55word")
    initiator = SpnegoInitiator("HTTP/localhost", username=username, password=password, protocol=protocol)
    initiator.step(None)
    mech = GSSMech.kerberos if protocol == "kerberos" else GSSMech.ntlm
    forged = NegTokenResp(neg_state=NegState.accept_complete, supported_mech=mech.value).pack()
    with pytest.raises(FailedAuthentication):
        initiator.step(forged)
    assert not initiator.complete


def test_kerberos_proof_must_be_sealed_and_intact(kdc: KdcRealm) -> None:
    initiator, acceptor = SpnegoInitiator("HTTP/localhost"), SpnegoAcceptor()
    negotiate(initiator, acceptor)
    assert acceptor._context is not None
    signed_only = acceptor._context.wrap(KEY, encrypt=False)  # GSS_Wrap without confidentiality
    assert not signed_only.encrypted
    with pytest.raises(InvalidRequest, match="not sealed"):
        initiator.unwrap_key(signed_only.data)

    initiator, acceptor = SpnegoInitiator("HTTP/localhost"), SpnegoAcceptor()
    negotiate(initiator, acceptor)
    blob = bytearray(acceptor.wrap_key(KEY))
    blob[-1] ^= 1
    with pytest.raises(FailedAuthentication):
        initiator.unwrap_key(bytes(blob))
    with pytest.raises(FailedAuthentication, match="already failed"):
        initiator.unwrap_key(bytes(blob))


def test_rc4_hmac_wrap_has_the_rfc_4757_layout(kdc: KdcRealm, monkeypatch: pytest.MonkeyPatch) -> None:
    """The enctype of the AD FS proofs TP/AADI decode (section 2.2): GSS framing ``60 len 06 09 <krb5 OID>``,
    TOK_ID ``02 01``, SGN_ALG ``11 00``, SEAL_ALG ``10 00``, filler ``ff ff``.  MIT negotiates an AES acceptor
    subkey (RFC 4537) unless the client permits RC4 alone, so this run narrows ``permitted_enctypes``."""
    kdc.kadmin("addprinc -randkey -e arcfour-hmac:normal HTTP/rc4.localhost")
    kdc.kadmin("setstr HTTP/rc4.localhost session_enctypes arcfour-hmac")  # else MIT issues an AES session key
    keytab = kdc.workdir / "rc4.keytab"
    kdc.kadmin(f"ktadd -k {keytab} -norandkey HTTP/rc4.localhost")
    conf = kdc.workdir / "krb5-rc4.conf"
    lines = [line for line in kdc.krb5_conf.read_text().splitlines() if "permitted_enctypes" not in line]
    conf.write_text("\n".join(lines).replace("[libdefaults]", "[libdefaults]\n    permitted_enctypes = arcfour-hmac"))
    monkeypatch.setenv("KRB5_CONFIG", str(conf))
    initiator, acceptor = SpnegoInitiator("HTTP/rc4.localhost@WSSC.TEST"), SpnegoAcceptor(keytab=keytab)
    negotiate(initiator, acceptor)
    blob = acceptor.wrap_key(KEY)
    assert blob[0] == 0x60 and blob[2:21] == bytes.fromhex("06092a864886f712010202020111001000ffff")
    assert initiator.unwrap_key(blob) == KEY


# --- NTLM without a KDC (sections 1.5, 2.2) -----------------------------------------------------------------------


def test_ntlm_four_legs_identity_and_wrap_layout() -> None:
    initiator, acceptor = ntlm_pair()
    tokens = negotiate(initiator, acceptor)
    assert len(tokens) == 4  # NEGOTIATE, CHALLENGE, AUTHENTICATE + mechListMIC, accept-completed + mechListMIC
    assert acceptor.peer_identity == ("ntlm", "WSSC\\alice")
    assert not initiator.mutual_authenticated  # NTLM cannot authenticate the service: allowed by allow_ntlm
    blob = acceptor.wrap_key(KEY)
    assert len(blob) == 16 + len(KEY) and blob[:4] == b"\x01\x00\x00\x00"  # NTLMSSP signature || sealed key
    assert KEY not in blob
    assert initiator.unwrap_key(blob) == KEY


def test_ntlm_users_from_a_file_and_by_upn(tmp_path: Path) -> None:
    users = tmp_path / "ntlm-users"
    users.write_text("WSSC:alice:ntlm-Pa55word\n:carol@wssc.test:carol-Pa55word\n", encoding="utf-8")
    initiator, acceptor = ntlm_pair(ntlm_users=users)
    negotiate(initiator, acceptor)
    assert acceptor.client_principal == "WSSC\\alice"
    initiator = SpnegoInitiator(
        "host/localhost", username="carol@wssc.test", password="carol-Pa55word", protocol="ntlm"
    )
    acceptor = SpnegoAcceptor(ntlm_users=NTLM_USERS)
    negotiate(initiator, acceptor)
    assert acceptor.peer_identity == ("ntlm", "carol@wssc.test")


def test_two_acceptors_with_different_users_in_one_process() -> None:
    """Each acceptor's user list applies to its own steps only, interleaved; the environment is restored."""
    before = os.environ.get("NTLM_USER_FILE")
    alice, alice_acceptor = ntlm_pair()
    dave = SpnegoInitiator("host/localhost", username="OTHER\\dave", password="dave-Pa55word", protocol="ntlm")
    dave_acceptor = SpnegoAcceptor(ntlm_users={"OTHER\\dave": "dave-Pa55word"})
    stray, stray_acceptor = ntlm_pair(ntlm_users={"OTHER\\dave": "dave-Pa55word"})  # alice is not in this list
    first = [alice.step(None), dave.step(None), stray.step(None)]
    second = [
        alice.step(alice_acceptor.step(first[0])),
        dave.step(dave_acceptor.step(first[1])),
        stray.step(stray_acceptor.step(first[2])),
    ]
    assert all(second)
    alice.step(alice_acceptor.step(second[0]))
    dave.step(dave_acceptor.step(second[1]))
    with pytest.raises(FailedAuthentication):
        stray_acceptor.step(second[2])
    assert alice_acceptor.client_principal == "WSSC\\alice" and dave_acceptor.client_principal == "OTHER\\dave"
    assert alice.complete and dave.complete and not stray_acceptor.complete
    assert os.environ.get("NTLM_USER_FILE") == before


@pytest.mark.parametrize(
    ("username", "password", "users"),
    [
        ("WSSC\\alice", "wrong-password", NTLM_USERS),
        ("WSSC\\mallory", "ntlm-Pa55word", NTLM_USERS),
        ("WSSC\\alice", "ntlm-Pa55word", None),
    ],
    ids=["wrong-password", "unknown-user", "no-user-list"],
)
def test_ntlm_refusals_are_failed_authentication(
    username: str, password: str, users: dict[str, str] | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NTLM_USER_FILE", raising=False)
    initiator = SpnegoInitiator("host/localhost", username=username, password=password, protocol="ntlm")
    acceptor = SpnegoAcceptor(ntlm_users=users)
    with pytest.raises(FailedAuthentication) as raised:
        negotiate(initiator, acceptor)
    assert password not in str(raised.value)
    assert not acceptor.complete and acceptor.peer_identity is None


# --- legs and wraps refused before the library sees them (section 7) ---------------------------------------------


def test_garbage_and_empty_tokens() -> None:
    with pytest.raises(FailedAuthentication):
        SpnegoAcceptor(ntlm_users=NTLM_USERS).step(b"\x60\x82\xff\xffgarbage")
    with pytest.raises(FailedAuthentication):
        SpnegoAcceptor(ntlm_users=NTLM_USERS).step(os.urandom(200))
    initiator, _ = ntlm_pair()
    initiator.step(None)
    with pytest.raises(FailedAuthentication):
        initiator.step(b"\xa1\x03\x30\x01\x00")
    with pytest.raises(InvalidRequest, match="empty"):
        SpnegoAcceptor(ntlm_users=NTLM_USERS).step(b"")
    with pytest.raises(InvalidRequest, match="no token"):
        SpnegoAcceptor(ntlm_users=NTLM_USERS).step(None)
    started, _ = ntlm_pair()
    started.step(None)
    with pytest.raises(InvalidRequest, match="no token"):
        started.step(None)
    with pytest.raises(InvalidRequest, match="start"):
        ntlm_pair()[0].step(b"\xa1\x00")


def test_oversize_token_and_too_many_legs(monkeypatch: pytest.MonkeyPatch) -> None:
    initiator, acceptor = ntlm_pair()
    with pytest.raises(InvalidRequest, match="longer"):
        acceptor.step(b"\x60" + bytes(MAX_TOKEN_BYTES))
    initiator, acceptor = ntlm_pair()
    monkeypatch.setattr(module, "MAX_LEGS", 1)
    challenge = acceptor.step(initiator.step(None))
    assert challenge is not None
    with pytest.raises(InvalidRequest, match="more legs"):
        acceptor.step(initiator.step(challenge) or b"")


def test_step_after_completion_and_wrap_discipline(monkeypatch: pytest.MonkeyPatch) -> None:
    initiator, acceptor = ntlm_pair()
    with pytest.raises(InvalidRequest, match="before"):
        acceptor.wrap_key(KEY)
    tokens = negotiate(initiator, acceptor)
    with pytest.raises(InvalidRequest, match="after"):
        initiator.step(tokens[-1])  # a stray leg ends the negotiation, as any refusal does (section 7)
    with pytest.raises(FailedAuthentication, match="already failed"):
        initiator.unwrap_key(acceptor.wrap_key(KEY))
    initiator, acceptor = ntlm_pair()
    tokens = negotiate(initiator, acceptor)
    with pytest.raises(InvalidRequest, match="after"):
        acceptor.step(tokens[0])
    initiator, acceptor = ntlm_pair()
    negotiate(initiator, acceptor)
    with pytest.raises(InvalidRequest, match="does not wrap"):
        initiator.wrap_key(KEY)
    with pytest.raises(InvalidRequest, match="does not unwrap"):
        acceptor.unwrap_key(b"x")
    with pytest.raises(ValueError):
        acceptor.wrap_key(bytes(MAX_KEY_BYTES + 1))
    blob = acceptor.wrap_key(KEY)
    with pytest.raises(InvalidRequest, match="once"):
        acceptor.wrap_key(KEY)
    with pytest.raises(InvalidRequest, match="length"):
        initiator.unwrap_key(b"")
    assert initiator.unwrap_key(blob) == KEY
    with pytest.raises(InvalidRequest, match="once"):
        initiator.unwrap_key(blob)

    initiator, acceptor = ntlm_pair()
    negotiate(initiator, acceptor)
    assert acceptor._context is not None
    plain = WrapResult(data=KEY, encrypted=False)
    monkeypatch.setattr(acceptor._context, "wrap", lambda data, encrypt=True, qop=None: plain)
    with pytest.raises(RequestFailed, match="did not seal"):
        acceptor.wrap_key(KEY)


def test_context_flags_requested() -> None:
    assert module.CONTEXT_FLAGS & ContextReq.mutual_auth and module.CONTEXT_FLAGS & ContextReq.confidentiality

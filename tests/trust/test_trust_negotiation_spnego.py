"""SPNEGO with Kerberos against a real MIT KDC on loopback (wssc.trust.negotiation.spnego), and target names.

NEGOTIATION.md sections 1.5 (Kerberos: one round trip), 2.2 (GSS_Wrap: the acceptor's first wrap, sealed; the
RC4-HMAC layout), 6 (target names, mutual authentication, AllowNtlm) and 7 (refusals are FailedAuthentication);
the test plan of section 11 item 3.  The ``kdc`` fixture (tests/conftest.py, tests/kdc_support.py) skips these
tests without MIT Kerberos.  NTLM and the leg checks: test_trust_negotiation_spnego_ntlm.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from spnego._context import GSSMech
from spnego._spnego import NegState, NegTokenResp
from spnego_support import KEY, NTLM_USERS, negotiate, ntlm_pair

import kdc_support
from kdc_support import KdcRealm
from wssc.errors import FailedAuthentication, InvalidRequest
from wssc.trust.negotiation import SPNEGO, NegotiationMechanism, SpnegoAcceptor, SpnegoInitiator, target_name

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


def test_the_realm_fixture_skips_without_mit_kerberos(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kdc_support, "_tool", lambda name: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="krb5kdc"), kdc_support.running_kdc(tmp_path):
        pass
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="scripts/test-deps"), kdc_support.running_kdc(tmp_path):
        pass


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


def test_kerberos_replayed_ap_req_is_refused(kdc: KdcRealm) -> None:
    """The acceptor's replay cache (RFC 4120 section 3.2.3) refuses the same first leg a second time."""
    first = SpnegoInitiator("HTTP/localhost").step(None)
    assert first is not None and SpnegoAcceptor().step(first)
    with pytest.raises(FailedAuthentication):
        SpnegoAcceptor().step(first)


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

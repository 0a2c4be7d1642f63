"""SPNEGO with NTLM, no KDC needed (wssc.trust.negotiation.spnego), and the legs and wraps refused.

NEGOTIATION.md sections 1.5 (NTLM: four legs), 2.2 (GSS_Wrap = 16-byte signature || sealed key), 7 (refusals are
FailedAuthentication, malformed legs InvalidRequest, nothing raw escapes) and the test plan of section 11 item 4;
the acceptor's user lists scoped per acceptor (wssc.trust.negotiation.spnego_env).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import spnego
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spnego._context import GSSMech, WrapResult
from spnego_support import KEY, NTLM_USERS, negotiate, ntlm_pair

from wssc.errors import FailedAuthentication, InvalidRequest, RequestFailed, WsscError
from wssc.trust.negotiation import SpnegoAcceptor, SpnegoInitiator
from wssc.trust.negotiation import spnego as module
from wssc.trust.negotiation.spnego import MAX_KEY_BYTES, MAX_TOKEN_BYTES

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


def test_acceptors_in_threads_each_see_their_own_users() -> None:
    """The process-wide lock of spnego_env: concurrent NTLM acceptors with different user lists all succeed."""

    def one(n: int) -> str | None:
        user = f"T{n}\\user{n}"
        initiator = SpnegoInitiator("host/localhost", username=user, password=f"pw-{n}", protocol="ntlm")
        acceptor = SpnegoAcceptor(ntlm_users={user: f"pw-{n}"})
        negotiate(initiator, acceptor)
        return acceptor.client_principal

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(one, range(32))) == [f"T{n}\\user{n}" for n in range(32)]


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


def test_ntlm_initiator_credential_from_the_user_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    users = tmp_path / "client-ntlm"
    users.write_text("WSSC:alice:ntlm-Pa55word\n", encoding="utf-8")
    monkeypatch.setenv("NTLM_USER_FILE", str(users))
    initiator, acceptor = SpnegoInitiator("host/localhost", protocol="ntlm"), SpnegoAcceptor(ntlm_users=NTLM_USERS)
    negotiate(initiator, acceptor)
    assert acceptor.client_principal == "WSSC\\alice"


@pytest.mark.parametrize(("level", "accepted"), [("3", True), ("1", False), ("0", False)])
def test_acceptor_takes_ntlmv2_only(level: str, accepted: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """A peer configured for NTLMv1/LM (LmCompatibilityLevel below 3) is refused ([MS-NLMP] section 3.3.1)."""
    monkeypatch.setenv("LM_COMPAT_LEVEL", level)  # read by pyspnego's NTLM when the client context is created
    ntlm = spnego.client("WSSC\\alice", "ntlm-Pa55word", protocol="ntlm", options=spnego.NegotiateOptions.use_ntlm)
    client = spnego.client(
        protocol="negotiate", options=spnego.NegotiateOptions.use_negotiate, _negotiate_contexts={GSSMech.ntlm: ntlm}
    )
    acceptor = SpnegoAcceptor(ntlm_users=NTLM_USERS)
    authenticate = client.step(acceptor.step(client.step()))
    assert authenticate is not None
    if accepted:
        assert acceptor.step(authenticate) and acceptor.client_principal == "WSSC\\alice"
    else:
        with pytest.raises(FailedAuthentication):
            acceptor.step(authenticate)
    assert os.environ["LM_COMPAT_LEVEL"] == level


# --- legs and wraps refused before the library sees them (section 7) ---------------------------------------------


def _mutated(token: bytes, offset: int, width: int, junk: bytes) -> bytes:
    offset %= len(token)
    return token[:offset] + junk + token[offset + width :]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 3), st.integers(0, 10_000), st.integers(0, 8), st.binary(max_size=8))
def test_mutated_legs_raise_only_typed_errors(leg: int, offset: int, width: int, junk: bytes) -> None:
    """Hostile bytes in any NTLM leg end in a wssc error, a side left waiting, or the same authenticated client."""
    initiator, acceptor = ntlm_pair()
    token = initiator.step(None)
    sides = [acceptor, initiator] * module.MAX_LEGS
    try:
        for n, side in enumerate(sides):
            if token is None:
                break
            token = side.step(_mutated(token, offset, width, junk) if n == leg else token)
    except WsscError:
        return
    if acceptor.complete:
        assert acceptor.client_principal == "WSSC\\alice"


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=300))
def test_random_bytes_raise_only_typed_errors(data: bytes) -> None:
    with pytest.raises(WsscError):
        SpnegoAcceptor(ntlm_users=NTLM_USERS).step(data)
    initiator, _ = ntlm_pair()
    initiator.step(None)
    with pytest.raises(WsscError):
        initiator.step(data)


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

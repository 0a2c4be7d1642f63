"""Key agreement: the service's issue_key and the client's proof_key agree in every entropy mode and version."""

from __future__ import annotations

import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from trust_support import roundtrip_xml

from wssc.errors import InvalidRequest, RequestFailed
from wssc.primitives.psha1 import computed_key
from wssc.tokens import reference
from wssc.tokens.encrypted_key import EncryptedKey
from wssc.tokens.x509 import self_signed
from wssc.trust.elements import BinarySecret, ComputedKey, RequestType
from wssc.trust.entropy import (
    DEFAULT_ENTROPY_MODE,
    EntropyMode,
    client_entropy,
    issue_key,
    proof_key,
    response_mode,
)
from wssc.trust.rst import RequestSecurityToken
from wssc.trust.rstr import RequestSecurityTokenResponse, parse_response, response_body
from wssc.versions import SC_1_3, SC_2005_02, SCVersion

VERSIONS = [pytest.param(SC_1_3, id="1.3"), pytest.param(SC_2005_02, id="2005-02")]


def _exchange(version: SCVersion, request: RequestSecurityToken, mode: EntropyMode, key_size: int = 256) -> bytes:
    """Service: parse the RST, issue, answer; client: parse the answer and compute the key.  Returns the
    client's key after asserting the service holds the same one."""
    received = RequestSecurityToken.from_element(roundtrip_xml(request.to_element(version)))
    issued = issue_key(received, mode, key_size)
    rstr = RequestSecurityTokenResponse(
        token_type=version.sct_token_type,
        requested_proof_token=issued.proof_token,
        entropy=issued.server_entropy,
        key_size=len(issued.key) * 8,
    )
    [answer] = parse_response(roundtrip_xml(response_body(version, RequestType.ISSUE, [rstr])))
    key = proof_key(request, answer, expected_mode=mode)
    assert key == issued.key
    return key


@pytest.mark.parametrize("version", VERSIONS)
def test_combined_entropy(version: SCVersion) -> None:
    entropy = client_entropy(256)
    request = RequestSecurityToken(RequestType.ISSUE, entropy=entropy, key_size=256)
    key = _exchange(version, request, EntropyMode.COMBINED)
    assert len(key) == 32 and key != entropy
    assert DEFAULT_ENTROPY_MODE is EntropyMode.COMBINED


@pytest.mark.parametrize("version", VERSIONS)
def test_server_entropy_ignores_client_entropy(version: SCVersion) -> None:
    entropy = client_entropy(128)
    request = RequestSecurityToken(RequestType.ISSUE, entropy=entropy, key_size=128)
    key = _exchange(version, request, EntropyMode.SERVER)
    assert len(key) == 16 and key != entropy
    assert _exchange(version, RequestSecurityToken(RequestType.ISSUE), EntropyMode.SERVER, 256) != key


@pytest.mark.parametrize("version", VERSIONS)
def test_client_entropy_is_the_key(version: SCVersion) -> None:
    entropy = client_entropy(256)
    assert _exchange(version, RequestSecurityToken(RequestType.ISSUE, entropy=entropy), EntropyMode.CLIENT) == entropy


def test_issue_key_shapes() -> None:
    request = RequestSecurityToken(RequestType.ISSUE, entropy=b"c" * 32)
    combined = issue_key(request, EntropyMode.COMBINED, 192)
    assert combined.proof_token == ComputedKey()
    assert combined.server_entropy is not None and len(combined.server_entropy) == 24
    assert combined.key == computed_key(b"c" * 32, combined.server_entropy, 192)
    server = issue_key(request, EntropyMode.SERVER)
    assert server.proof_token == BinarySecret(server.key) and server.server_entropy is None and len(server.key) == 32
    assert issue_key(request, EntropyMode.CLIENT) == (b"c" * 32, None, None)
    # the request's KeySize wins over the configured size
    assert len(issue_key(RequestSecurityToken(RequestType.ISSUE, key_size=128), EntropyMode.SERVER, 256).key) == 16


@pytest.mark.parametrize(
    ("request_", "mode"),
    [
        (RequestSecurityToken(RequestType.ISSUE), EntropyMode.COMBINED),  # no client entropy
        (RequestSecurityToken(RequestType.ISSUE), EntropyMode.CLIENT),
        (RequestSecurityToken(RequestType.ISSUE, entropy=b"e" * 32, key_size=64), EntropyMode.COMBINED),
        (RequestSecurityToken(RequestType.ISSUE, key_size=1024), EntropyMode.SERVER),
        (RequestSecurityToken(RequestType.ISSUE, entropy=b"e" * 8), EntropyMode.CLIENT),  # 64-bit key
        (
            RequestSecurityToken(RequestType.ISSUE, entropy=b"e" * 32, computed_key_algorithm="urn:example:ck"),
            EntropyMode.COMBINED,
        ),
    ],
)
def test_issue_key_refuses_bad_requests(request_: RequestSecurityToken, mode: EntropyMode) -> None:
    with pytest.raises(InvalidRequest):
        issue_key(request_, mode)


def test_issue_key_and_client_entropy_refuse_bad_arguments() -> None:
    with pytest.raises(ValueError):
        issue_key(RequestSecurityToken(RequestType.ISSUE, entropy=b"e" * 32), EntropyMode.COMBINED, 100)
    for bits in (0, 60, 257, 8192):
        with pytest.raises(ValueError):
            client_entropy(bits)
    assert len(client_entropy()) == 32
    assert client_entropy() != client_entropy()


REQUEST = RequestSecurityToken(RequestType.ISSUE, entropy=b"r" * 32, key_size=256)


@pytest.mark.parametrize(
    ("request_", "response"),
    [
        # combined without server entropy, or without our entropy
        (REQUEST, RequestSecurityTokenResponse(requested_proof_token=ComputedKey())),
        (
            RequestSecurityToken(RequestType.ISSUE),
            RequestSecurityTokenResponse(requested_proof_token=ComputedKey(), entropy=b"s" * 32),
        ),
        # an unknown computed-key algorithm
        (REQUEST, RequestSecurityTokenResponse(requested_proof_token=ComputedKey("urn:x"), entropy=b"s" * 32)),
        # client mode without client entropy, or with server entropy but no ComputedKey
        (RequestSecurityToken(RequestType.ISSUE), RequestSecurityTokenResponse()),
        (REQUEST, RequestSecurityTokenResponse(entropy=b"s" * 32)),
        (REQUEST, RequestSecurityTokenResponse(requested_proof_token=BinarySecret(b"k" * 32), entropy=b"s" * 32)),
        # EncryptedKey without a decryptor
        (REQUEST, RequestSecurityTokenResponse(requested_proof_token=EncryptedKey("urn:wrap", b"x" * 48))),
    ],
)
def test_proof_key_refuses_unusable_responses(
    request_: RequestSecurityToken, response: RequestSecurityTokenResponse
) -> None:
    with pytest.raises(RequestFailed):
        proof_key(request_, response)


def test_proof_key_mode_and_decryptor_checks() -> None:
    server = RequestSecurityTokenResponse(requested_proof_token=BinarySecret(b"k" * 32))
    assert response_mode(server) is EntropyMode.SERVER
    assert proof_key(REQUEST, server) == b"k" * 32
    with pytest.raises(RequestFailed):
        proof_key(REQUEST, server, expected_mode=EntropyMode.COMBINED)
    wrapped = RequestSecurityTokenResponse(requested_proof_token=EncryptedKey("urn:wrap", b"x" * 48))
    with pytest.raises(RequestFailed):
        proof_key(REQUEST, wrapped, decrypt_proof=lambda ek: b"short")
    assert proof_key(REQUEST, wrapped, decrypt_proof=lambda ek: ek.cipher_value[:32]) == b"x" * 32
    with pytest.raises(RequestFailed):  # the computed key size is bounded too
        proof_key(
            RequestSecurityToken(RequestType.ISSUE, entropy=b"r" * 32),
            RequestSecurityTokenResponse(requested_proof_token=ComputedKey(), entropy=b"s" * 32),
            default_key_size=12,
        )


def _certificate() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    cert, key = self_signed("wssc trust test client", days=1)
    return key, cert


@pytest.mark.parametrize("version", VERSIONS)
def test_encrypted_key_proof_token_with_rsa(version: SCVersion) -> None:
    """Server entropy sent as an xenc:EncryptedKey for the client's certificate (WS-Trust 1.3 section 4.4.3)."""
    private_key, cert = _certificate()
    secret = os.urandom(32)
    ek, _ = EncryptedKey.create(cert, reference.local("client-cert"), secret=secret)
    rstr = RequestSecurityTokenResponse(requested_proof_token=ek, key_size=256)
    [answer] = parse_response(roundtrip_xml(rstr.to_element(version)))
    received = answer.requested_proof_token
    assert isinstance(received, EncryptedKey)
    assert (received.algorithm, received.cipher_value, received.key_info) == (
        ek.algorithm,
        ek.cipher_value,
        ek.key_info,
    )
    assert proof_key(REQUEST, answer, decrypt_proof=lambda token: token.decrypt(private_key, 32)) == secret

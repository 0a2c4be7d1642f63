"""Entropy and the proof key of an issued context (WS-Trust 1.3 sections 3.3, 4.4.3 and 4.4.4; SPEC-NOTES section 5).

Three ways to agree on the key, chosen by the service (policy ``sp:Trust10``/``sp:Trust13`` RequireClientEntropy /
RequireServerEntropy; WCF ``SecurityKeyEntropyMode``):

- **client** entropy only: no proof token; the key is the client's entropy;
- **server** entropy only: ``RequestedProofToken`` carries the key (``BinarySecret``, or ``xenc:EncryptedKey``);
  a client ignores the entropy it sent, as Apache Rampart's service answers that way even to a client
  that sent entropy (verified against the Rampart sample04 capture);
- **combined** (WCF's default): ``RequestedProofToken/ComputedKey`` = CK/PSHA1 plus the server's ``Entropy``;
  key = P_SHA1(secret = client entropy, seed = server entropy)[0 : KeySize/8].

Malformed or inconsistent *requests* raise :class:`~wssc.errors.InvalidRequest` (the service answers
``wst:InvalidRequest``); responses a client cannot turn into a key raise :class:`~wssc.errors.RequestFailed`.
Bad arguments from the calling program raise ValueError.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from enum import Enum
from typing import Final, NamedTuple

from wssc.errors import InvalidRequest, RequestFailed
from wssc.primitives.psha1 import computed_key
from wssc.tokens.encrypted_key import EncryptedKey
from wssc.trust.elements import (
    MAX_KEY_SIZE,
    MAX_SECRET_BYTES,
    MIN_KEY_SIZE,
    MIN_SECRET_BYTES,
    BinarySecret,
    ComputedKey,
)
from wssc.trust.rst import RequestSecurityToken
from wssc.trust.rstr import ProofToken, RequestSecurityTokenResponse
from wssc.versions import VERSIONS


class EntropyMode(Enum):
    """Who contributes key material (WCF ``SecurityKeyEntropyMode``)."""

    CLIENT = "client"
    SERVER = "server"
    COMBINED = "combined"


#: WCF's default ``SecurityKeyEntropyMode.CombinedEntropy``.
DEFAULT_ENTROPY_MODE: Final = EntropyMode.COMBINED
#: WCF sends KeySize = the suite's DefaultSymmetricKeyLength: 256 bits for Basic256, its default suite.
DEFAULT_KEY_SIZE: Final = 256
#: Key sizes a service issues: 128 bits is the smallest suite key (Basic128); 512 bits leaves room for
#: HMAC-SHA512 keys and matches the largest Microsoft.IdentityModel CK/PSHA1 vectors.
MIN_ISSUED_KEY_SIZE: Final = 128
MAX_ISSUED_KEY_SIZE: Final = 512

_PSHA1_URIS: Final = frozenset(v.ck_psha1 for v in VERSIONS)

Decryptor = Callable[[EncryptedKey], bytes]
"""Recovers the key of an EncryptedKey proof token: RSA key transport with the client's private key
(``lambda ek: ek.decrypt(private_key)``), or the TLS_Wrap / GSS_Wrap unwrap of a negotiation."""


def _check_bits(bits: int, low: int, high: int) -> bool:
    return low <= bits <= high and bits % 8 == 0


def client_entropy(key_size_bits: int = DEFAULT_KEY_SIZE) -> bytes:
    """Fresh requestor entropy of ``key_size_bits`` bits, as WCF sends (``wst:Entropy``, WS-Trust 1.3 section 3.3)."""
    if not _check_bits(key_size_bits, MIN_KEY_SIZE, MAX_KEY_SIZE):
        raise ValueError(f"entropy size {key_size_bits} bits: need a multiple of 8 in {MIN_KEY_SIZE}..{MAX_KEY_SIZE}")
    return os.urandom(key_size_bits // 8)


def response_mode(response: RequestSecurityTokenResponse) -> EntropyMode:
    """The entropy mode a response uses: no proof token = client, ComputedKey = combined, else server."""
    token = response.requested_proof_token
    if token is None:
        return EntropyMode.CLIENT
    if isinstance(token, ComputedKey):
        return EntropyMode.COMBINED
    return EntropyMode.SERVER


def proof_key(
    request: RequestSecurityToken,
    response: RequestSecurityTokenResponse,
    default_key_size: int = DEFAULT_KEY_SIZE,
    *,
    decrypt_proof: Decryptor | None = None,
    expected_mode: EntropyMode | None = None,
) -> bytes:
    """The context key a client derives from its request and the service's response.

    ``default_key_size`` (bits) applies to a combined key when neither the response nor the request gives
    KeySize (WCF ``GetIssuedToken``).  ``expected_mode``, when given, refuses a response in another mode, as
    WCF refuses a response that does not match its configured ``SecurityKeyEntropyMode``.
    """
    mode = response_mode(response)
    if expected_mode is not None and mode is not expected_mode:
        raise RequestFailed(f"response uses {mode.value} entropy, {expected_mode.value} expected")
    token = response.requested_proof_token
    if mode is EntropyMode.CLIENT:
        if request.entropy is None:
            raise RequestFailed("no proof token and no client entropy: the key is unknown")
        if response.entropy is not None:
            raise RequestFailed("server entropy without a ComputedKey proof token")
        return request.entropy
    if isinstance(token, ComputedKey):
        if not token.is_psha1:
            raise RequestFailed(f"unsupported computed-key algorithm {token.algorithm!r}")
        if request.entropy is None or response.entropy is None:
            raise RequestFailed("a computed key needs both client and server entropy")
        bits = response.key_size or request.key_size or default_key_size
        if not _check_bits(bits, MIN_KEY_SIZE, MAX_KEY_SIZE):
            raise RequestFailed(f"computed key size {bits} bits out of range")
        return computed_key(request.entropy, response.entropy, bits)
    if response.entropy is not None:
        raise RequestFailed("server entropy without a ComputedKey proof token")
    if isinstance(token, BinarySecret):
        return token.value
    assert isinstance(token, EncryptedKey)
    if decrypt_proof is None:
        raise RequestFailed("the proof token is an EncryptedKey and no decryptor was given")
    key = decrypt_proof(token)
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise RequestFailed(f"decrypted proof key of {len(key)} bytes out of range")
    return key


class IssuedKey(NamedTuple):
    """A service's half of :func:`issue_key`: the context key and what the RSTR carries about it."""

    key: bytes
    #: ``RequestedProofToken`` content: BinarySecret (server), ComputedKey (combined), None (client)
    proof_token: ProofToken | None
    #: the RSTR's ``Entropy`` (combined mode only)
    server_entropy: bytes | None

    def __repr__(self) -> str:  # key material stays out of logs and tracebacks
        return f"IssuedKey(key=<{len(self.key)} bytes>, proof_token={type(self.proof_token).__name__})"


def issue_key(
    request: RequestSecurityToken, mode: EntropyMode = DEFAULT_ENTROPY_MODE, key_size: int = DEFAULT_KEY_SIZE
) -> IssuedKey:
    """Choose the key of a context being issued (WCF ``WSTrust.Driver.ProcessRstAndIssueKey``).

    The request's KeySize wins over ``key_size`` (bits); either must be a multiple of 8 within
    MIN_ISSUED_KEY_SIZE..MAX_ISSUED_KEY_SIZE.  Server mode ignores client entropy (as Rampart does);
    client and combined modes require it.  The key size the RSTR reports is ``len(key) * 8``.
    """
    if request.key_size is None and not _check_bits(key_size, MIN_ISSUED_KEY_SIZE, MAX_ISSUED_KEY_SIZE):
        raise ValueError(f"key size {key_size} bits out of {MIN_ISSUED_KEY_SIZE}..{MAX_ISSUED_KEY_SIZE}")
    bits = request.key_size if request.key_size is not None else key_size
    if not _check_bits(bits, MIN_ISSUED_KEY_SIZE, MAX_ISSUED_KEY_SIZE):
        raise InvalidRequest(f"requested KeySize {bits} not in {MIN_ISSUED_KEY_SIZE}..{MAX_ISSUED_KEY_SIZE}")
    algorithm = request.computed_key_algorithm
    if algorithm is not None and algorithm not in _PSHA1_URIS:
        raise InvalidRequest(f"unsupported ComputedKeyAlgorithm {algorithm!r}")
    if mode is EntropyMode.SERVER:
        key = os.urandom(bits // 8)
        return IssuedKey(key, BinarySecret(key), None)
    entropy = request.entropy
    if entropy is None:
        raise InvalidRequest(f"{mode.value} entropy mode requires client entropy")
    if mode is EntropyMode.CLIENT:
        if not _check_bits(len(entropy) * 8, MIN_ISSUED_KEY_SIZE, MAX_ISSUED_KEY_SIZE):
            raise InvalidRequest(f"client entropy of {len(entropy)} bytes is no usable key")
        return IssuedKey(entropy, None, None)
    server_entropy = os.urandom(bits // 8)
    return IssuedKey(computed_key(entropy, server_entropy, bits), ComputedKey(), server_entropy)

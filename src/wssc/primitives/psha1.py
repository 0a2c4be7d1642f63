"""P_SHA1 key derivation (TLS 1.0 P_hash, RFC 2246 section 5) as WS-SC and WS-Trust use it.

Hand-written because `cryptography` exposes HMAC but not the TLS 1.0 P_hash construction; every HMAC
here is `cryptography`'s.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, hmac

_SHA1_LEN = 20


def p_sha1(secret: bytes, seed: bytes, length: int, offset: int = 0) -> bytes:
    """Return ``P_SHA1(secret, seed)[offset : offset + length]``.

    A(0) = seed, A(i) = HMAC-SHA1(secret, A(i-1)); output = HMAC(secret, A(1) || seed) || HMAC(secret, A(2) || seed) ...
    (RFC 2246 section 5; WS-SC 1.3 section 7; WS-Trust 1.3 section 4.4.4 for CK/PSHA1).
    """
    if length < 0 or offset < 0:
        raise ValueError("length and offset must not be negative")
    keyed = hmac.HMAC(secret, hashes.SHA1())
    needed = offset + length
    out = bytearray()
    a = seed
    while len(out) < needed:
        h = keyed.copy()
        h.update(a)
        a = h.finalize()
        h = keyed.copy()
        h.update(a)
        h.update(seed)
        out += h.finalize()
    return bytes(out[offset:needed])


def derive_key(secret: bytes, label: bytes, nonce: bytes, length: int, offset: int = 0) -> bytes:
    """Derived key of WS-SC 1.3 section 7: ``P_SHA1(secret, label || nonce)[offset : offset + length]``."""
    return p_sha1(secret, label + nonce, length, offset)


def computed_key(client_entropy: bytes, server_entropy: bytes, key_size_bits: int) -> bytes:
    """WS-Trust ``CK/PSHA1`` (WS-Trust 1.3 section 4.4.4): ``P_SHA1(client entropy, server entropy)``.

    The requestor's entropy is the HMAC key, the issuer's the seed; no label (verified against the
    Microsoft.IdentityModel vectors, SPEC-NOTES section 5).
    """
    if key_size_bits <= 0 or key_size_bits % 8:
        raise ValueError("key size must be a positive multiple of 8 bits")
    return p_sha1(client_entropy, server_entropy, key_size_bits // 8)

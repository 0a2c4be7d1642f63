"""Algorithm identifiers (XML-DSig, XML-Enc 1.0/1.1) and the WS-SecurityPolicy algorithm suites.

Only the algorithms a suite can name are accepted; everything else is ``wsse:UnsupportedAlgorithm``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives import hashes

from wssc import namespaces as ns
from wssc.errors import UnsupportedAlgorithm

SHA1: Final = ns.DS + "sha1"
SHA256: Final = ns.XENC + "sha256"
SHA384: Final = ns.DSIG_MORE + "sha384"
SHA512: Final = ns.XENC + "sha512"

HMAC_SHA1: Final = ns.DS + "hmac-sha1"
HMAC_SHA256: Final = ns.DSIG_MORE + "hmac-sha256"
HMAC_SHA384: Final = ns.DSIG_MORE + "hmac-sha384"
HMAC_SHA512: Final = ns.DSIG_MORE + "hmac-sha512"
RSA_SHA1: Final = ns.DS + "rsa-sha1"
RSA_SHA256: Final = ns.DSIG_MORE + "rsa-sha256"

AES128_CBC: Final = ns.XENC + "aes128-cbc"
AES192_CBC: Final = ns.XENC + "aes192-cbc"
AES256_CBC: Final = ns.XENC + "aes256-cbc"
TRIPLEDES_CBC: Final = ns.XENC + "tripledes-cbc"
AES128_GCM: Final = ns.XENC11 + "aes128-gcm"
AES192_GCM: Final = ns.XENC11 + "aes192-gcm"
AES256_GCM: Final = ns.XENC11 + "aes256-gcm"
#: the AES-GCM variant (XML Encryption 1.1 section 5.2.4) of each AES-CBC cipher a suite names
GCM_VARIANT: Final = {AES128_CBC: AES128_GCM, AES192_CBC: AES192_GCM, AES256_CBC: AES256_GCM}


def gcm_variant(cipher: str) -> str:
    """The AES-GCM variant of the AES-CBC ``cipher``; any other cipher (TripleDES) has none and is itself."""
    return GCM_VARIANT.get(cipher, cipher)

RSA_OAEP_MGF1P: Final = ns.XENC + "rsa-oaep-mgf1p"
RSA_OAEP: Final = ns.XENC11 + "rsa-oaep"
RSA_1_5: Final = ns.XENC + "rsa-1_5"
KW_AES128: Final = ns.XENC + "kw-aes128"
KW_AES192: Final = ns.XENC + "kw-aes192"
KW_AES256: Final = ns.XENC + "kw-aes256"
KW_TRIPLEDES: Final = ns.XENC + "kw-tripledes"

DIGESTS: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    SHA1: hashes.SHA1,
    SHA256: hashes.SHA256,
    SHA384: hashes.SHA384,
    SHA512: hashes.SHA512,
}
HMACS: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    HMAC_SHA1: hashes.SHA1,
    HMAC_SHA256: hashes.SHA256,
    HMAC_SHA384: hashes.SHA384,
    HMAC_SHA512: hashes.SHA512,
}
#: block cipher URI -> (key length in bytes, mode) ; mode is "cbc" or "gcm"
BLOCK_CIPHERS: Final[dict[str, tuple[int, str]]] = {
    AES128_CBC: (16, "cbc"),
    AES192_CBC: (24, "cbc"),
    AES256_CBC: (32, "cbc"),
    TRIPLEDES_CBC: (24, "cbc"),
    AES128_GCM: (16, "gcm"),
    AES192_GCM: (24, "gcm"),
    AES256_GCM: (32, "gcm"),
}


def digest_algorithm(uri: str) -> hashes.HashAlgorithm:
    """The hash for a ds:DigestMethod URI."""
    try:
        return DIGESTS[uri]()
    except KeyError:
        raise UnsupportedAlgorithm(f"digest {uri!r}") from None


def hmac_algorithm(uri: str) -> hashes.HashAlgorithm:
    """The hash for an HMAC ds:SignatureMethod URI."""
    try:
        return HMACS[uri]()
    except KeyError:
        raise UnsupportedAlgorithm(f"signature method {uri!r}") from None


@dataclass(frozen=True)
class AlgorithmSuite:
    """A WS-SecurityPolicy 1.2 algorithm suite (section 6.1; SPEC-NOTES section 11).

    Key lengths are in bytes.  Derived keys always use P_SHA1, whatever the digest.
    """

    name: str
    digest: str
    encryption: str
    symmetric_key_wrap: str
    asymmetric_key_wrap: str
    encryption_key_length: int
    signature_key_length: int
    minimum_symmetric_key_length: int

    @property
    def symmetric_signature(self) -> str:
        """HMAC with the suite's digest (WS-SP 1.2 section 6.1)."""
        return HMAC_SHA256 if self.digest == SHA256 else HMAC_SHA1

    @property
    def asymmetric_signature(self) -> str:
        return RSA_SHA256 if self.digest == SHA256 else RSA_SHA1


def _suite(name: str, digest: str, enc: str, kw: str, akw: str, enc_len: int, sig_len: int) -> AlgorithmSuite:
    return AlgorithmSuite(name, digest, enc, kw, akw, enc_len, sig_len, enc_len)


_BASES: Final = (
    ("Basic256", AES256_CBC, KW_AES256, 32, 24),
    ("Basic192", AES192_CBC, KW_AES192, 24, 24),
    ("Basic128", AES128_CBC, KW_AES128, 16, 16),
    ("TripleDes", TRIPLEDES_CBC, KW_TRIPLEDES, 24, 24),
)

SUITES: Final[dict[str, AlgorithmSuite]] = {}
for _base, _enc, _kw, _elen, _slen in _BASES:
    SUITES[_base] = _suite(_base, SHA1, _enc, _kw, RSA_OAEP_MGF1P, _elen, _slen)
    SUITES[_base + "Rsa15"] = _suite(_base + "Rsa15", SHA1, _enc, _kw, RSA_1_5, _elen, _slen)
    SUITES[_base + "Sha256"] = _suite(_base + "Sha256", SHA256, _enc, _kw, RSA_OAEP_MGF1P, _elen, _slen)
    SUITES[_base + "Sha256Rsa15"] = _suite(_base + "Sha256Rsa15", SHA256, _enc, _kw, RSA_1_5, _elen, _slen)

BASIC256: Final = SUITES["Basic256"]
BASIC128: Final = SUITES["Basic128"]
BASIC256_SHA256: Final = SUITES["Basic256Sha256"]
BASIC128_SHA256: Final = SUITES["Basic128Sha256"]


def suite(name: str) -> AlgorithmSuite:
    """Look a suite up by its WS-SecurityPolicy name (``Basic256``, ``Basic128Sha256Rsa15`` ...)."""
    try:
        return SUITES[name]
    except KeyError:
        raise ValueError(f"unknown algorithm suite {name!r}") from None

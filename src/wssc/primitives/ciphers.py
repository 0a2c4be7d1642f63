"""XML Encryption ciphers: block encryption, RSA key transport and AES key wrap (all from `cryptography`).

Failures of any kind (bad padding, bad tag, wrong length) raise the same :class:`FailedCheck` with no
detail that distinguishes them, so that decryption cannot be used as an oracle (XML Encryption 1.1
section 6.5; Jager and Somorovsky, "How to break XML Encryption", CCS 2011).
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, keywrap
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from wssc.errors import FailedCheck, UnsupportedAlgorithm
from wssc.primitives import algorithms as alg

_GCM_IV = 12
_GCM_TAG = 16


def _block(uri: str, key: bytes) -> tuple[str, int]:
    try:
        key_len, mode = alg.BLOCK_CIPHERS[uri]
    except KeyError:
        raise UnsupportedAlgorithm(f"encryption method {uri!r}") from None
    if len(key) != key_len:
        raise FailedCheck(f"{uri} needs a {key_len}-byte key, got {len(key)}")
    return mode, (8 if uri == alg.TRIPLEDES_CBC else 16)


def _cbc_algorithm(uri: str, key: bytes) -> algorithms.AES | TripleDES:
    return TripleDES(key) if uri == alg.TRIPLEDES_CBC else algorithms.AES(key)


def encrypt(uri: str, key: bytes, plaintext: bytes) -> bytes:
    """Encrypt for an xenc:CipherValue: IV || ciphertext (CBC, XML Encryption 5.2) or IV || ciphertext || tag (GCM)."""
    mode, block = _block(uri, key)
    if mode == "gcm":
        iv = os.urandom(_GCM_IV)
        return iv + AESGCM(key).encrypt(iv, plaintext, None)
    iv = os.urandom(block)
    pad = block - len(plaintext) % block
    # XML Encryption 5.2: arbitrary pad bytes, the last one the pad length; zeros as WCF and Santuario write.
    padded = plaintext + bytes(pad - 1) + bytes([pad])
    enc = Cipher(_cbc_algorithm(uri, key), modes.CBC(iv)).encryptor()
    return iv + enc.update(padded) + enc.finalize()


def decrypt(uri: str, key: bytes, data: bytes) -> bytes:
    """Inverse of :func:`encrypt`; the pad bytes other than the last are not checked (XML Encryption 5.2)."""
    plaintext, padding_ok = decrypt_unchecked(uri, key, data)
    if not padding_ok:
        raise FailedCheck("decryption failed")
    return plaintext


def decrypt_unchecked(uri: str, key: bytes, data: bytes) -> tuple[bytes, bool]:
    """Decrypt, returning the plaintext and whether its CBC padding was valid, without failing on bad padding.

    With bad padding the plaintext is the whole decrypted block sequence less its last byte, so a caller
    that goes on to parse it (as :func:`wssc.security.xmlenc.decrypt` does, then fails) spends the same time
    on good and bad padding: the padding-oracle attack (Jager and Somorovsky, CCS 2011) times exactly that
    difference.  GCM and length failures raise :class:`FailedCheck` at once (they need no secret to learn).
    """
    mode, block = _block(uri, key)
    if mode == "gcm":
        if len(data) < _GCM_IV + _GCM_TAG:
            raise FailedCheck("cipher text too short")
        try:
            return AESGCM(key).decrypt(data[:_GCM_IV], data[_GCM_IV:], None), True
        except InvalidTag:
            raise FailedCheck("authentication tag mismatch") from None
    if len(data) < 2 * block or len(data) % block:
        raise FailedCheck("cipher text length")
    dec = Cipher(_cbc_algorithm(uri, key), modes.CBC(data[:block])).decryptor()
    padded = dec.update(data[block:]) + dec.finalize()
    pad = padded[-1]
    padding_ok = 1 <= pad <= block
    return padded[: -pad if padding_ok else -1], padding_ok


def _oaep(uri: str, digest: str | None, mgf: str | None) -> padding.OAEP:
    if uri == alg.RSA_OAEP_MGF1P:
        hash_alg: hashes.HashAlgorithm = alg.digest_algorithm(digest or alg.SHA1)
        return padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hash_alg, label=None)
    mgf_hash: hashes.HashAlgorithm = hashes.SHA1()
    if mgf is not None:
        mgf_map = {
            "http://www.w3.org/2009/xmlenc11#mgf1sha1": hashes.SHA1(),
            "http://www.w3.org/2009/xmlenc11#mgf1sha256": hashes.SHA256(),
        }
        if mgf not in mgf_map:
            raise UnsupportedAlgorithm(f"MGF {mgf!r}")
        mgf_hash = mgf_map[mgf]
    return padding.OAEP(mgf=padding.MGF1(mgf_hash), algorithm=alg.digest_algorithm(digest or alg.SHA1), label=None)


def key_transport_encrypt(
    uri: str, public_key: rsa.RSAPublicKey, key: bytes, digest: str | None = None, mgf: str | None = None
) -> bytes:
    """RSA key transport for xenc:EncryptedKey (XML Encryption 5.4): RSA-OAEP or RSA-PKCS#1 v1.5."""
    if uri == alg.RSA_1_5:
        return public_key.encrypt(key, padding.PKCS1v15())
    if uri in (alg.RSA_OAEP_MGF1P, alg.RSA_OAEP):
        return public_key.encrypt(key, _oaep(uri, digest, mgf))
    raise UnsupportedAlgorithm(f"key transport {uri!r}")


def key_transport_decrypt(
    uri: str,
    private_key: rsa.RSAPrivateKey,
    wrapped: bytes,
    expected_length: int | None = None,
    digest: str | None = None,
    mgf: str | None = None,
) -> bytes:
    """Recover a transported key.

    RSA-1.5 failures return a random key of the expected length instead of failing (RFC 5246 section
    7.4.7.1 countermeasure to Bleichenbacher's attack); the message then fails its signature check
    like any other wrong key.
    """
    if uri == alg.RSA_1_5:
        try:
            key = private_key.decrypt(wrapped, padding.PKCS1v15())
        except ValueError:
            key = b""
        if not key or (expected_length is not None and len(key) != expected_length):
            key = os.urandom(expected_length or 32)
        return key
    if uri in (alg.RSA_OAEP_MGF1P, alg.RSA_OAEP):
        try:
            return private_key.decrypt(wrapped, _oaep(uri, digest, mgf))
        except ValueError:
            raise FailedCheck("key transport decryption failed") from None
    raise UnsupportedAlgorithm(f"key transport {uri!r}")


_KW_LENGTHS = {alg.KW_AES128: 16, alg.KW_AES192: 24, alg.KW_AES256: 32}


def key_wrap(uri: str, kek: bytes, key: bytes) -> bytes:
    """AES key wrap (RFC 3394, XML Encryption 5.6.3)."""
    if _KW_LENGTHS.get(uri) != len(kek):
        raise UnsupportedAlgorithm(f"key wrap {uri!r} with a {len(kek)}-byte key")
    return keywrap.aes_key_wrap(kek, key)


def key_unwrap(uri: str, kek: bytes, wrapped: bytes) -> bytes:
    """Inverse of :func:`key_wrap`.  TripleDES key wrap (RFC 3217) is not supported."""
    if _KW_LENGTHS.get(uri) != len(kek):
        raise UnsupportedAlgorithm(f"key wrap {uri!r} with a {len(kek)}-byte key")
    try:
        return keywrap.aes_key_unwrap(kek, wrapped)
    except (keywrap.InvalidUnwrap, ValueError):
        raise FailedCheck("key unwrap failed") from None

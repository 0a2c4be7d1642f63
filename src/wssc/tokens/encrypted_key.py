"""xenc:EncryptedKey as a WS-Security token (WSS 1.1 section 7.3 and X.509 Token Profile; XML Encryption 3.5.1).

WCF's symmetric bootstrap bindings transport a fresh key to the service certificate this way and derive
signature and encryption keys from it; responses refer back to it by EncryptedKeySHA1 (SHA-1 of the
CipherValue octets, WSS 1.1 section 7.3).  Hand-written: no maintained Python XML-Enc library exists.
"""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from wssc import namespaces as ns
from wssc.errors import InvalidSecurity, InvalidSecurityToken
from wssc.primitives import algorithms as alg
from wssc.primitives import ciphers
from wssc.primitives.xml import Element, b64decode, b64encode, only_child, required_child
from wssc.tokens.reference import KeyIdentifier, SecurityTokenReference
from wssc.tokens.x509 import rsa_public_key

EK_TAG = ns.qn(ns.XENC, "EncryptedKey")
_ENC_METHOD = ns.qn(ns.XENC, "EncryptionMethod")
_CIPHER_DATA = ns.qn(ns.XENC, "CipherData")
_CIPHER_VALUE = ns.qn(ns.XENC, "CipherValue")
_REF_LIST = ns.qn(ns.XENC, "ReferenceList")
_DATA_REF = ns.qn(ns.XENC, "DataReference")
_KEY_INFO = ns.qn(ns.DS, "KeyInfo")


def encrypted_key_sha1(cipher_value: bytes) -> bytes:
    """SHA-1 of the encrypted key octets: the EncryptedKeySHA1 KeyIdentifier value."""
    return hashlib.sha1(cipher_value).digest()  # noqa: S324 - protocol-defined identifier


@dataclass(frozen=True)
class EncryptedKey:
    algorithm: str
    cipher_value: bytes
    element_id: str | None = None
    key_info: SecurityTokenReference | None = None
    digest_method: str | None = None
    mgf: str | None = None
    data_references: tuple[str, ...] = ()

    @property
    def sha1(self) -> bytes:
        return encrypted_key_sha1(self.cipher_value)

    def sha1_reference(self) -> SecurityTokenReference:
        """The STR responses use to refer to this key (``KeyIdentifier ValueType=#EncryptedKeySHA1``)."""
        return SecurityTokenReference(KeyIdentifier(ns.ENCRYPTED_KEY_SHA1, self.sha1), token_type=None)

    def decrypt(self, private_key: rsa.RSAPrivateKey, expected_length: int | None = None) -> bytes:
        return ciphers.key_transport_decrypt(
            self.algorithm, private_key, self.cipher_value, expected_length, self.digest_method, self.mgf
        )

    @classmethod
    def create(
        cls,
        recipient: x509.Certificate,
        key_info: SecurityTokenReference,
        *,
        secret: bytes | None = None,
        length: int = 32,
        algorithm: str = alg.RSA_OAEP_MGF1P,
    ) -> tuple[EncryptedKey, bytes]:
        """Wrap ``secret`` (fresh when None) for ``recipient``; returns the token and the secret."""
        secret = os.urandom(length) if secret is None else secret
        wrapped = ciphers.key_transport_encrypt(algorithm, rsa_public_key(recipient), secret)
        ek = cls(algorithm, wrapped, "EK-" + str(uuid.uuid4()), key_info)
        return ek, secret

    def to_element(self, parent: Element | None = None) -> Element:
        el = etree.Element(EK_TAG) if parent is None else etree.SubElement(parent, EK_TAG)
        if self.element_id:
            el.set("Id", self.element_id)
        method = etree.SubElement(el, _ENC_METHOD, Algorithm=self.algorithm)
        if self.algorithm == alg.RSA_OAEP_MGF1P or self.digest_method:
            etree.SubElement(method, ns.qn(ns.DS, "DigestMethod"), Algorithm=self.digest_method or alg.SHA1)
        if self.key_info is not None:
            self.key_info.to_element(etree.SubElement(el, _KEY_INFO))
        cipher_data = etree.SubElement(el, _CIPHER_DATA)
        etree.SubElement(cipher_data, _CIPHER_VALUE).text = b64encode(self.cipher_value)
        if self.data_references:
            refs = etree.SubElement(el, _REF_LIST)
            for uri in self.data_references:
                etree.SubElement(refs, _DATA_REF, URI=uri)
        return el

    @classmethod
    def from_element(cls, el: Element) -> EncryptedKey:
        if el.tag != EK_TAG:
            raise InvalidSecurityToken(f"not an EncryptedKey: {el.tag}")
        method = required_child(el, _ENC_METHOD)
        algorithm = method.get("Algorithm")
        if not algorithm:
            raise InvalidSecurity("EncryptionMethod without Algorithm")
        digest = method.find(ns.qn(ns.DS, "DigestMethod"))
        mgf = method.find(ns.qn(ns.XENC11, "MGF"))
        key_info = None
        ki = only_child(el, _KEY_INFO)
        if ki is not None:
            str_el = ki.find(ns.qn(ns.WSSE, "SecurityTokenReference"))
            if str_el is not None:
                key_info = SecurityTokenReference.from_element(str_el)
        cipher_value = required_child(required_child(el, _CIPHER_DATA), _CIPHER_VALUE)
        refs: tuple[str, ...] = ()
        ref_list = only_child(el, _REF_LIST)
        if ref_list is not None:
            refs = tuple(r.get("URI", "") for r in ref_list.iterchildren(_DATA_REF))
        return cls(
            algorithm=algorithm,
            cipher_value=b64decode(cipher_value.text, "CipherValue"),
            element_id=el.get("Id"),
            key_info=key_info,
            digest_method=None if digest is None else digest.get("Algorithm"),
            mgf=None if mgf is None else mgf.get("Algorithm"),
            data_references=refs,
        )


def sha1_text(cipher_value: bytes) -> str:
    """Base64 EncryptedKeySHA1 as it appears in a KeyIdentifier."""
    return base64.b64encode(encrypted_key_sha1(cipher_value)).decode("ascii")

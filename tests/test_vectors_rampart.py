"""Known-answer chain over Apache Rampart "policy sample 04" (WS-SC Feb 2005, Basic128Rsa15, 2008 captures).

Follows rampart-sample04-secconv/README.md, "What a correct implementation must be able to do", 1-6:
RSA-1.5 EncryptedKey -> EncryptedKeySHA1 -> P_SHA1 DerivedKeyTokens -> AES-128-CBC EncryptedData ->
HMAC-SHA1 (and the endorsing RSA-SHA1) signatures, then the SCT key from the RSTR for the application and
cancel messages.  Every expected value is transcribed from expected.json / the README as a literal.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from wssc.errors import InvalidSecurity
from wssc.limits import DEFAULT_LIMITS
from wssc.primitives import ciphers
from wssc.primitives import xml as wx
from wssc.security import dsig, xmlenc
from wssc.tokens.dkt import DerivedKeyToken
from wssc.tokens.encrypted_key import EncryptedKey
from wssc.tokens.reference import KeyIdentifier, Reference, SecurityTokenReference
from wssc.tokens.sct import SecurityContextToken
from wssc.tokens.x509 import X509Token, matches, thumbprint_sha1
from wssc.versions import SC_2005_02

VectorPath = Callable[[str], Path]

FOLDER = "rampart-sample04-secconv"

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSSE11 = "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DS = "http://www.w3.org/2000/09/xmldsig#"
XENC = "http://www.w3.org/2001/04/xmlenc#"
EXC_C14N_NS = "http://www.w3.org/2001/10/xml-exc-c14n#"
SC = "http://schemas.xmlsoap.org/ws/2005/02/sc"
TRUST = "http://schemas.xmlsoap.org/ws/2005/02/trust"
WSA_2004 = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSA_2005 = "http://www.w3.org/2005/08/addressing"
ECHO_NS = "http://sample04.policy.samples.rampart.apache.org"

RSA_1_5 = "http://www.w3.org/2001/04/xmlenc#rsa-1_5"
AES128_CBC = "http://www.w3.org/2001/04/xmlenc#aes128-cbc"
XENC_ELEMENT = "http://www.w3.org/2001/04/xmlenc#Element"
XENC_CONTENT = "http://www.w3.org/2001/04/xmlenc#Content"
HMAC_SHA1 = "http://www.w3.org/2000/09/xmldsig#hmac-sha1"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
THUMBPRINT_VALUE_TYPE = "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#ThumbprintSHA1"
EK_VALUE_TYPE = "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#EncryptedKey"
EK_SHA1_VALUE_TYPE = "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#EncryptedKeySHA1"
SCT_VALUE_TYPE = "http://schemas.xmlsoap.org/ws/2005/02/sc/sct"

# README step 1 and 2, expected.json "bootstrap_encrypted_key"
EK_ID = "EncKeyId-urn:uuid:A4CC588C97FAD2AA9D12142275341932"
EK_KEY = bytes.fromhex("03df23660b240f3a8b61a7d8891e5a7f")
EK_SHA1 = base64.b64decode("Ex5vdwadjBaRqNFUi5w1L7JcgFs=")
SERVICE_THUMBPRINT = base64.b64decode("HYL371NzoOs2+IA24VDkBGcUFQM=")

# README step 6, expected.json "sct"
SCT_IDENTIFIER = "urn:uuid:20189D76AA5794EBCA12142275347662"
SCT_ID = "sctId-5683514"
SCT_SECRET = bytes.fromhex("596af1b3323d460e48cb99258adf12745b7e5f4e697b03416efa2db183ed5fd0")

# README step 3, expected.json "messages": wsu:Id -> (Nonce, derived key); all Offset 0, Length 16.
# The first DKT of each message is the encryption key, the second the signature key.
DERIVED_KEYS: dict[str, dict[str, tuple[str, str]]] = {
    "rst04.xml": {
        "derivedKeyId-14949315": ("8GNOzdMY+l532yPT/gCHHg==", "adb7adcf04192e9bf01d5cf2ed53fba0"),
        "derivedKeyId-28318458": ("xmvBzN+/IS2QXtCRe0dAjQ==", "7d95760f1e0348a37c20d96ab2b325ca"),
    },
    "rstr04.xml": {
        "derivedKeyId-9633996": ("Mf8glJ0/L8UtteM6uMSsEA==", "73c62125b5cad108be00d6fac9261766"),
        "derivedKeyId-11382417": ("nkGdUk1zK2gHmFBGS2l46w==", "ec745eb1f066b8100e52459386f3ebe6"),
    },
    "req04.xml": {
        "derivedKeyId-24666758": ("KaI3GpoIgWoAv4LgJ1vzWQ==", "943f2aa4109ce21c2fdc14ed985a7656"),
        "derivedKeyId-20700470": ("pZ24ckrNMfd/VbP+TxkD0A==", "7e62af3deb1153cedbbece7cf87c6d15"),
    },
    "res04.xml": {
        "derivedKeyId-25106497": ("KIJiXAuNJTvoaiL44sQbZQ==", "9504a31e310dcde2b4d8f5149227bdfa"),
        "derivedKeyId-13623369": ("xEZqEIZj46Nlc8XNDC3V+Q==", "30d5aa12e3994551d8a317d436585c38"),
    },
    "creq04.xml": {
        "derivedKeyId-6169134": ("RIyJ8H6YBzSPvPAEYwpIhA==", "6417aaae3e6e1c3a6fddefc81f8cd935"),
        "derivedKeyId-3977333": ("RPK+fuKlKgvF2V6LOoyePQ==", "e516553c8e71f87b457208937a39107f"),
    },
    "cres04.xml": {
        "derivedKeyId-14765441": ("0KWR9ekXOIuW9G3tK4nnNg==", "7a828d5ad0ba40ddd831dfadaaec4696"),
        "derivedKeyId-31346136": ("rq51rXQ1eUqPz4o8J3LW4w==", "ec1ce254ddc24cb4e70940bd3103608f"),
    },
}
#: messages whose EncryptedData are intact (rstr04's was damaged in transit, see its own test)
DECRYPTABLE = ["rst04.xml", "req04.xml", "res04.xml", "creq04.xml", "cres04.xml"]
#: Element-type EncryptedData (the encrypted ds:Signature) + Content-type ones (the Body)
ENCRYPTED_PARTS = {
    "rst04.xml": (1, 0),
    "req04.xml": (1, 1),
    "res04.xml": (1, 1),
    "creq04.xml": (1, 1),
    "cres04.xml": (1, 1),
}
#: the primary HMAC-SHA1 signature value of rst04 (inside its EncryptedData; rstr04 confirms it)
RST04_HMAC_SIGNATURE = base64.b64decode("UPx8N9c32i9RGIr0618ZawNnGZ0=")
RST04_ENDORSING_SIGNATURE = base64.b64decode(
    "QB+Xyuvruvws9z/Mq2b7JVVHByBMdkA4Nf7LEdYqSt2s98llkrrhuaGkZ2DAbagXwFn14BeJ7x4CDyJ8A+nK0YE2vYBRtHWNnlsue2tU"
    "/9apEF3ItOFOgvw0H9YrzG1BmEgECeYvpPzOtCGmc1rAjXmMdPZqpg9I79IrmumOOKE="
)


def q(namespace: str, local: str) -> str:
    return "{" + namespace + "}" + local


# --- helpers ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def folder(vector_path: VectorPath) -> Path:
    return vector_path(FOLDER)


@pytest.fixture(scope="module")
def service_key(folder: Path) -> rsa.RSAPrivateKey:
    pem = (folder / "service-2008-private-key.pem").read_bytes()
    assert b"-----BEGIN PRIVATE KEY-----" in pem  # unencrypted PKCS#8: no password
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


@pytest.fixture(scope="module")
def client_cert(folder: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate((folder / "client-2008-cert.pem").read_bytes())


def _parse(folder: Path, name: str) -> wx.Element:
    # Every capture parses under the default limits (depth 32, 4 MiB).
    return wx.parse((folder / name).read_bytes())


def _security(doc: wx.Element) -> wx.Element:
    sec = doc.find(f"{q(SOAP11, 'Header')}/{q(WSSE, 'Security')}")
    assert sec is not None
    return sec


def _body(doc: wx.Element) -> wx.Element:
    body = doc.find(q(SOAP11, "Body"))
    assert body is not None
    return body


def _encrypted_key(doc: wx.Element) -> EncryptedKey:
    found = _security(doc).findall(q(XENC, "EncryptedKey"))
    assert len(found) == 1
    return EncryptedKey.from_element(found[0])


@pytest.fixture(scope="module")
def bootstrap(folder: Path, service_key: rsa.RSAPrivateKey) -> tuple[EncryptedKey, bytes]:
    """rst04's EncryptedKey and the key it transports (README step 1)."""
    ek = _encrypted_key(_parse(folder, "rst04.xml"))
    return ek, ek.decrypt(service_key, expected_length=16)


@pytest.fixture(scope="module")
def sct_secret(folder: Path) -> bytes:
    """The SCT key: rstr04's RequestedProofToken/BinarySecret (README step 6)."""
    rstr = _body(_parse(folder, "rstr04.xml")).find(q(TRUST, "RequestSecurityTokenResponse"))
    assert rstr is not None
    secret = rstr.findtext(f"{q(TRUST, 'RequestedProofToken')}/{q(TRUST, 'BinarySecret')}")
    return wx.b64decode(secret, "BinarySecret")


def _base_secret(dkt: DerivedKeyToken, ek: EncryptedKey, ek_key: bytes, sct_key: bytes) -> bytes:
    """Resolve a DKT's STR the way a receiver must, asserting the reference form of each message."""
    assert dkt.reference is not None
    target = dkt.reference.target
    if isinstance(target, KeyIdentifier):  # rstr04: EncryptedKeySHA1 of rst04's key (README step 2)
        assert target.value_type == EK_SHA1_VALUE_TYPE
        assert target.value == ek.sha1 == EK_SHA1
        return ek_key
    assert isinstance(target, Reference)
    if target.value_type == EK_VALUE_TYPE:  # rst04: the EncryptedKey in the same message
        assert target.uri == "#" + EK_ID
        assert ek.element_id == EK_ID
        return ek_key
    # requests reference the SCT in the header, responses its Identifier
    assert target.value_type == SCT_VALUE_TYPE
    assert target.uri in ("#" + SCT_ID, SCT_IDENTIFIER)
    return sct_key


def _derived_keys(doc: wx.Element, ek: EncryptedKey, ek_key: bytes, sct_key: bytes) -> dict[str, bytes]:
    keys = {}
    for el in _security(doc).iter(q(SC, "DerivedKeyToken")):
        dkt = DerivedKeyToken.from_element(el)
        assert dkt.wsu_id is not None
        keys[dkt.wsu_id] = dkt.derive(_base_secret(dkt, ek, ek_key, sct_key))
    return keys


def _local_ref_id(ref: SecurityTokenReference | None) -> str:
    assert ref is not None
    assert isinstance(ref.target, Reference)
    assert ref.target.is_local
    return ref.target.local_id


def _decrypt_in_place(doc: wx.Element, keys: dict[str, bytes]) -> dict[str, bytes]:
    """Decrypt every EncryptedData (README step 4); returns Type -> concatenated plaintext for inspection."""
    plaintexts: dict[str, bytes] = {}
    for ed in list(doc.iter(q(XENC, "EncryptedData"))):
        info = xmlenc.parse_encrypted_data(ed)
        assert info.algorithm == AES128_CBC
        key = keys[_local_ref_id(info.key_reference)]
        plaintext = ciphers.decrypt(info.algorithm, key, info.cipher_value)
        assert info.data_type is not None
        plaintexts[info.data_type] = plaintexts.get(info.data_type, b"") + plaintext
        xmlenc.decrypt(info, key, DEFAULT_LIMITS)
    return plaintexts


def _open(
    folder: Path, name: str, bootstrap: tuple[EncryptedKey, bytes], sct_secret: bytes
) -> tuple[wx.Element, dict[str, bytes]]:
    """A message with every part decrypted in place, and its derived keys."""
    doc = _parse(folder, name)
    keys = _derived_keys(doc, *bootstrap, sct_secret)
    _decrypt_in_place(doc, keys)
    return doc, keys


def _ids(doc: wx.Element) -> dict[str, wx.Element]:
    ids: dict[str, wx.Element] = {}
    for el in doc.iter():
        if not isinstance(el.tag, str):
            continue
        found = wx.local_id(el)
        if found:
            assert found not in ids, f"duplicate id {found}"
            ids[found] = el
    return ids


def _strip_indentation(el: wx.Element) -> None:
    """Drop the whitespace-only text the site's pretty-printer added inside ``el`` (in place)."""
    for node in el.iter():
        if node.text is not None and not node.text.strip():
            node.text = None
        if node is not el and node.tail is not None and not node.tail.strip():
            node.tail = None


def _newline_whitespace(el: wx.Element) -> None:
    """Turn every whitespace-only text inside ``el`` into a single newline, as Rampart wrote it (in place)."""
    for node in el.iter():
        if node.text is not None and not node.text.strip():
            node.text = "\n"
        if node is not el and node.tail is not None and not node.tail.strip():
            node.tail = "\n"


def _signed_info_c14n(sig: wx.Element) -> bytes:
    signed_info = sig.find(q(DS, "SignedInfo"))
    assert signed_info is not None
    method = signed_info.find(q(DS, "CanonicalizationMethod"))
    assert method is not None
    assert method.get("Algorithm") == EXC_C14N_NS
    inclusive = method.find(q(EXC_C14N_NS, "InclusiveNamespaces"))
    prefixes = None if inclusive is None else (inclusive.get("PrefixList") or "").split()
    return wx.c14n(signed_info, prefixes)


def _signature_method(sig: wx.Element) -> str:
    method = sig.find(f"{q(DS, 'SignedInfo')}/{q(DS, 'SignatureMethod')}")
    assert method is not None
    return method.get("Algorithm") or ""


def _signature_key_id(sig: wx.Element) -> str:
    str_el = sig.find(f"{q(DS, 'KeyInfo')}/{q(WSSE, 'SecurityTokenReference')}")
    assert str_el is not None
    return _local_ref_id(SecurityTokenReference.from_element(str_el))


def _signature_value(sig: wx.Element) -> bytes:
    return wx.b64decode(sig.findtext(q(DS, "SignatureValue")), "SignatureValue")


def _shape(el: wx.Element, root: bool = True) -> tuple[Any, ...]:
    """Tags, attributes, texts and child order; whitespace-only text, comments and prefixes ignored."""

    def text(value: str | None) -> str | None:
        return value if value is not None and value.strip() else None

    children = tuple(_shape(child, False) for child in el if isinstance(child.tag, str))
    return (el.tag, tuple(sorted(el.attrib.items())), text(el.text), None if root else text(el.tail), children)


# --- README steps 1 and 2: the bootstrap EncryptedKey ---------------------------------------------------


def test_service_certificate_is_the_encrypted_key_recipient(folder: Path) -> None:
    cert = x509.load_pem_x509_certificate((folder / "service-2008-cert.pem").read_bytes())
    assert thumbprint_sha1(cert) == SERVICE_THUMBPRINT
    ek = _encrypted_key(_parse(folder, "rst04.xml"))
    assert ek.key_info is not None
    assert ek.key_info.target == KeyIdentifier(THUMBPRINT_VALUE_TYPE, SERVICE_THUMBPRINT)
    assert matches(cert, ek.key_info)


def test_encrypted_key_decrypts_to_the_bootstrap_key(folder: Path, service_key: rsa.RSAPrivateKey) -> None:
    ek = _encrypted_key(_parse(folder, "rst04.xml"))
    assert ek.algorithm == RSA_1_5
    assert ek.element_id == EK_ID
    assert ek.decrypt(service_key, expected_length=16) == EK_KEY
    assert ek.decrypt(service_key) == EK_KEY


def test_encrypted_key_sha1(folder: Path) -> None:
    ek = _encrypted_key(_parse(folder, "rst04.xml"))
    assert ek.sha1 == EK_SHA1
    assert hashlib.sha1(ek.cipher_value).digest() == EK_SHA1
    # rstr04 names rst04's key by exactly this value
    rstr = _parse(folder, "rstr04.xml")
    identifiers = rstr.findall(f".//{q(SC, 'DerivedKeyToken')}/{q(WSSE, 'SecurityTokenReference')}")
    assert len(identifiers) == 2
    for str_el in identifiers:
        assert SecurityTokenReference.from_element(str_el).target == KeyIdentifier(EK_SHA1_VALUE_TYPE, EK_SHA1)
    assert ek.sha1_reference().target == KeyIdentifier(EK_SHA1_VALUE_TYPE, EK_SHA1)


# --- README step 3: every DerivedKeyToken ---------------------------------------------------------------


@pytest.mark.parametrize("message", sorted(DERIVED_KEYS))
def test_derived_keys(folder: Path, message: str, bootstrap: tuple[EncryptedKey, bytes], sct_secret: bytes) -> None:
    ek, ek_key = bootstrap
    assert ek_key == EK_KEY
    assert sct_secret == SCT_SECRET
    expected = DERIVED_KEYS[message]
    seen = []
    for el in _security(_parse(folder, message)).iter(q(SC, "DerivedKeyToken")):
        dkt = DerivedKeyToken.from_element(el)
        assert dkt.version is SC_2005_02
        assert dkt.wsu_id in expected
        nonce_b64, key_hex = expected[dkt.wsu_id]
        assert dkt.nonce == base64.b64decode(nonce_b64)
        assert (dkt.offset, dkt.length, dkt.generation, dkt.label) == (0, 16, None, None)
        assert dkt.derive(_base_secret(dkt, ek, ek_key, sct_secret)).hex() == key_hex
        seen.append(dkt.wsu_id)
    assert seen == list(expected)


# --- README step 4: every EncryptedData -----------------------------------------------------------------


@pytest.mark.parametrize("message", DECRYPTABLE)
def test_encrypted_data_decrypts(
    folder: Path, message: str, bootstrap: tuple[EncryptedKey, bytes], sct_secret: bytes
) -> None:
    doc = _parse(folder, message)
    keys = _derived_keys(doc, *bootstrap, sct_secret)
    encryption_key_id = next(iter(DERIVED_KEYS[message]))
    eds = list(doc.iter(q(XENC, "EncryptedData")))
    # the ReferenceList names exactly the EncryptedData in the message
    listed = {ref.get("URI") for ref in _security(doc).iter(q(XENC, "DataReference"))}
    assert listed == {"#" + (ed.get("Id") or "") for ed in eds}
    types = []
    for ed in eds:
        info = xmlenc.parse_encrypted_data(ed)
        assert info.algorithm == AES128_CBC
        assert _local_ref_id(info.key_reference) == encryption_key_id
        plaintext = ciphers.decrypt(info.algorithm, keys[encryption_key_id], info.cipher_value)
        if info.data_type == XENC_ELEMENT:
            assert plaintext.startswith(b'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"')
            assert plaintext.endswith(b"</ds:Signature>")
        else:
            assert info.data_type == XENC_CONTENT
            assert ed.getparent() is _body(doc)
        types.append(info.data_type)
    assert (types.count(XENC_ELEMENT), types.count(XENC_CONTENT)) == ENCRYPTED_PARTS[message]
    # in place: no EncryptedData left, the signature is back in the security header
    _decrypt_in_place(doc, keys)
    assert not list(doc.iter(q(XENC, "EncryptedData")))
    assert len(_security(doc).findall(q(DS, "Signature"))) == (2 if message == "rst04.xml" else 1)


def test_rstr04_damaged_encrypted_signature(folder: Path, bootstrap: tuple[EncryptedKey, bytes]) -> None:
    """HTTP chunk markers damaged rstr04's CipherValue: only its first 608 plaintext bytes are recoverable."""
    doc = _parse(folder, "rstr04.xml")
    keys = _derived_keys(doc, *bootstrap, SCT_SECRET)
    (ed,) = doc.iter(q(XENC, "EncryptedData"))
    with pytest.raises(InvalidSecurity):  # strict base64: the damaged value is refused, not half-decoded
        xmlenc.parse_encrypted_data(ed)
    key_ref = ed.find(f"{q(DS, 'KeyInfo')}/{q(WSSE, 'SecurityTokenReference')}")
    assert key_ref is not None
    key_id = _local_ref_id(SecurityTokenReference.from_element(key_ref))
    assert key_id == "derivedKeyId-9633996"
    text = ed.findtext(f"{q(XENC, 'CipherData')}/{q(XENC, 'CipherValue')}") or ""
    intact = text.split("\n", 1)[0]  # everything before the first chunk-size line ("e9d")
    raw = base64.b64decode(intact[: len(intact) // 4 * 4])
    raw = raw[: len(raw) // 16 * 16]
    assert len(raw) == 16 + 608
    # the library's CBC decryption insists on the final pad byte, which a truncated prefix does not have
    decryptor = Cipher(algorithms.AES(keys[key_id]), modes.CBC(raw[:16])).decryptor()
    plaintext = decryptor.update(raw[16:]) + decryptor.finalize()
    assert plaintext.startswith(b'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"')
    assert b'<ds:Reference URI="#Timestamp-26918187">' in plaintext
    assert b'<ds:SignatureMethod Algorithm="http://www.w3.org/2000/09/xmldsig#hmac-sha1">' in plaintext


# --- README step 5: signatures --------------------------------------------------------------------------


@pytest.mark.parametrize("message", DECRYPTABLE)
def test_hmac_signature(folder: Path, message: str, bootstrap: tuple[EncryptedKey, bytes], sct_secret: bytes) -> None:
    doc, keys = _open(folder, message, bootstrap, sct_secret)
    signatures = [s for s in doc.iter(q(DS, "Signature")) if _signature_method(s) == HMAC_SHA1]
    assert len(signatures) == 1
    sig = signatures[0]
    # keyed by the *other* DKT than the one that encrypted
    signature_key_id = list(DERIVED_KEYS[message])[1]
    assert _signature_key_id(sig) == signature_key_id
    key = bytes.fromhex(DERIVED_KEYS[message][signature_key_id][1])
    assert keys[signature_key_id] == key
    value = _signature_value(sig)
    assert dsig.hmac_value(HMAC_SHA1, key, _signed_info_c14n(sig)) == value
    if message == "rst04.xml":
        assert value == RST04_HMAC_SIGNATURE

    # the single Reference is the Timestamp; its digest holds once the site's indentation is removed
    references = sig.findall(f"{q(DS, 'SignedInfo')}/{q(DS, 'Reference')}")
    assert len(references) == 1
    timestamp = _security(doc).find(q(WSU, "Timestamp"))
    assert timestamp is not None
    assert references[0].get("URI") == "#" + (timestamp.get(q(WSU, "Id")) or "")
    _strip_indentation(timestamp)
    digest = hashlib.sha1(wx.c14n(timestamp)).digest()
    assert digest == wx.b64decode(references[0].findtext(q(DS, "DigestValue")), "DigestValue")

    # and the library's verifier agrees end to end
    def lookup(ref: SecurityTokenReference | None, method: str) -> bytes:
        assert method == HMAC_SHA1
        return keys[_local_ref_id(ref)]

    verified = dsig.verify(sig, _ids(doc), lookup, max_references=DEFAULT_LIMITS.max_signature_references)
    assert [(ref_id, el) for ref_id, el in verified.references] == [(timestamp.get(q(WSU, "Id")), timestamp)]
    assert verified.value == value


def test_rst04_endorsing_signature(
    folder: Path, bootstrap: tuple[EncryptedKey, bytes], client_cert: x509.Certificate
) -> None:
    """The client certificate's RSA-SHA1 signature over the (decrypted) primary signature."""
    doc, _ = _open(folder, "rst04.xml", bootstrap, SCT_SECRET)
    signatures = {s.get("Id"): s for s in _security(doc).iter(q(DS, "Signature"))}
    assert set(signatures) == {"Signature-29945809", "Signature-1668655"}
    endorsing = signatures["Signature-1668655"]
    assert _signature_method(endorsing) == RSA_SHA1
    assert _signature_value(endorsing) == RST04_ENDORSING_SIGNATURE

    # KeyInfo -> the BinarySecurityToken, which carries the client certificate
    str_el = endorsing.find(f"{q(DS, 'KeyInfo')}/{q(WSSE, 'SecurityTokenReference')}")
    assert str_el is not None
    bst_id = _local_ref_id(SecurityTokenReference.from_element(str_el))
    bst = _ids(doc)[bst_id]
    assert bst.tag == q(WSSE, "BinarySecurityToken")
    assert wx.b64decode(bst.text) == client_cert.public_bytes(serialization.Encoding.DER)

    # the Reference digest over the decrypted primary signature holds as captured
    (reference,) = endorsing.iterfind(f"{q(DS, 'SignedInfo')}/{q(DS, 'Reference')}")
    assert reference.get("URI") == "#Signature-29945809"
    digest = hashlib.sha1(wx.c14n(signatures["Signature-29945809"])).digest()
    assert digest == wx.b64decode(reference.findtext(q(DS, "DigestValue")), "DigestValue")

    # the SignatureValue holds once the re-indented SignedInfo has its single newlines back
    signed_info = endorsing.find(q(DS, "SignedInfo"))
    assert signed_info is not None
    _newline_whitespace(signed_info)
    public_key = client_cert.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(_signature_value(endorsing), _signed_info_c14n(endorsing), padding.PKCS1v15(), hashes.SHA1())

    def lookup(ref: SecurityTokenReference | None, method: str) -> rsa.RSAPublicKey:
        assert method == RSA_SHA1
        assert _local_ref_id(ref) == bst_id
        return public_key

    verified = dsig.verify(endorsing, _ids(doc), lookup, max_references=DEFAULT_LIMITS.max_signature_references)
    assert [ref_id for ref_id, _ in verified.references] == ["Signature-29945809"]


def test_rst04_binary_security_token_x509v1(folder: Path, client_cert: x509.Certificate) -> None:
    """rst04's BinarySecurityToken is an X.509 v1 certificate labelled ``#X509v1`` (X.509 Token Profile 1.0).

    WSS4J (and so Rampart) writes that ValueType for v1 certificates and accepts it on receipt.
    """
    bst = _security(_parse(folder, "rst04.xml")).find(q(WSSE, "BinarySecurityToken"))
    assert bst is not None
    assert bst.get("ValueType", "").endswith("#X509v1")
    assert client_cert.version == x509.Version.v1
    token = X509Token.from_element(bst)
    assert token.certificate == client_cert
    assert token.wsu_id == "CertId-148082"


def test_rstr04_signature_confirmations(folder: Path) -> None:
    """WSS 1.1 SignatureConfirmation in rstr04 echoes both of rst04's signature values."""
    confirmations = _security(_parse(folder, "rstr04.xml")).findall(q(WSSE11, "SignatureConfirmation"))
    values = sorted(base64.b64decode(c.get("Value") or "") for c in confirmations)
    assert values == sorted([RST04_ENDORSING_SIGNATURE, RST04_HMAC_SIGNATURE])


# --- README step 6: the issued SCT and its use ----------------------------------------------------------


def test_rstr04_issues_the_sct(folder: Path) -> None:
    doc = _parse(folder, "rstr04.xml")
    action = doc.findtext(f"{q(SOAP11, 'Header')}/{q(WSA_2004, 'Action')}")
    assert action == "http://schemas.xmlsoap.org/ws/2005/02/trust/RSTR/SCT"
    rstr = _body(doc).find(q(TRUST, "RequestSecurityTokenResponse"))
    assert rstr is not None
    sct_el = rstr.find(f"{q(TRUST, 'RequestedSecurityToken')}/{q(SC, 'SecurityContextToken')}")
    assert sct_el is not None
    sct = SecurityContextToken.from_element(sct_el)
    assert (sct.identifier, sct.wsu_id, sct.instance, sct.extensions) == (SCT_IDENTIFIER, SCT_ID, None, ())
    assert sct.version is SC_2005_02
    attached = rstr.find(f"{q(TRUST, 'RequestedAttachedReference')}/{q(WSSE, 'SecurityTokenReference')}")
    unattached = rstr.find(f"{q(TRUST, 'RequestedUnattachedReference')}/{q(WSSE, 'SecurityTokenReference')}")
    assert attached is not None
    assert unattached is not None
    assert SecurityTokenReference.from_element(attached).target == Reference("#" + SCT_ID, SCT_VALUE_TYPE)
    assert SecurityTokenReference.from_element(unattached).target == Reference(SCT_IDENTIFIER, SCT_VALUE_TYPE)
    # Rampart answered the client's entropy with a full BinarySecret: that is the SCT key, no ComputedKey
    proof = rstr.find(f"{q(TRUST, 'RequestedProofToken')}/{q(TRUST, 'BinarySecret')}")
    assert proof is not None
    assert wx.b64decode(proof.text) == SCT_SECRET
    assert rstr.find(q(TRUST, "Entropy")) is None


def test_rst04_body_in_clear(folder: Path) -> None:
    rst = _body(_parse(folder, "rst04.xml")).find(q(TRUST, "RequestSecurityToken"))
    assert rst is not None
    assert rst.findtext(q(TRUST, "RequestType")) == "http://schemas.xmlsoap.org/ws/2005/02/trust/Issue"
    assert rst.findtext(q(TRUST, "TokenType")) == SCT_VALUE_TYPE
    entropy = rst.findtext(f"{q(TRUST, 'Entropy')}/{q(TRUST, 'BinarySecret')}")
    assert entropy == "LvNYXcA6HKhPIAzUrsswYA=="
    assert rst.findtext(q(TRUST, "ComputedKeyAlgorithm")) == "http://schemas.xmlsoap.org/ws/2005/02/trust/CK/PSHA1"


@pytest.mark.parametrize("message", ["req04.xml", "creq04.xml"])
def test_requests_carry_the_sct(folder: Path, message: str) -> None:
    sct_els = _security(_parse(folder, message)).findall(q(SC, "SecurityContextToken"))
    assert len(sct_els) == 1
    sct = SecurityContextToken.from_element(sct_els[0])
    assert (sct.identifier, sct.wsu_id) == (SCT_IDENTIFIER, SCT_ID)


@pytest.mark.parametrize(
    ("message", "action", "wsa"),
    [
        ("req04.xml", "urn:echo", WSA_2005),
        ("res04.xml", "urn:echoResponse", WSA_2005),
        ("creq04.xml", "http://schemas.xmlsoap.org/ws/2005/02/trust/RST/SCT/Cancel", WSA_2005),
        # Rampart answers a cancel with RSTR/Cancel, not RSTR/SCT/Cancel (SPEC-NOTES section 2)
        ("cres04.xml", "http://schemas.xmlsoap.org/ws/2005/02/trust/RSTR/Cancel", WSA_2005),
    ],
)
def test_actions(folder: Path, message: str, action: str, wsa: str) -> None:
    assert _parse(folder, message).findtext(f"{q(SOAP11, 'Header')}/{q(wsa, 'Action')}") == action


def test_echo_request_and_response_bodies(
    folder: Path, bootstrap: tuple[EncryptedKey, bytes], sct_secret: bytes
) -> None:
    request, _ = _open(folder, "req04.xml", bootstrap, sct_secret)
    (echo,) = _body(request)
    assert echo.tag == q(ECHO_NS, "echo")
    assert echo.findtext("param0") == "Hello world1"
    response, _ = _open(folder, "res04.xml", bootstrap, sct_secret)
    (echo_response,) = _body(response)
    assert echo_response.tag == q(ECHO_NS, "echoResponse")
    assert echo_response.findtext(q(ECHO_NS, "return")) == "Hello world1"


def test_cancel_request_body(folder: Path, bootstrap: tuple[EncryptedKey, bytes], sct_secret: bytes) -> None:
    doc, _ = _open(folder, "creq04.xml", bootstrap, sct_secret)
    (rst,) = _body(doc)
    assert rst.tag == q(TRUST, "RequestSecurityToken")
    assert rst.findtext(q(TRUST, "RequestType")) == "http://schemas.xmlsoap.org/ws/2005/02/trust/Cancel"
    target = rst.find(f"{q(TRUST, 'CancelTarget')}/{q(WSSE, 'SecurityTokenReference')}")
    assert target is not None
    # the CancelTarget names the SCT by Identifier, without a ValueType
    assert SecurityTokenReference.from_element(target).target == Reference(SCT_IDENTIFIER)


def test_cancel_response_body(folder: Path, bootstrap: tuple[EncryptedKey, bytes], sct_secret: bytes) -> None:
    doc, _ = _open(folder, "cres04.xml", bootstrap, sct_secret)
    (rstr,) = _body(doc)
    assert rstr.tag == q(TRUST, "RequestSecurityTokenResponse")
    assert [child.tag for child in rstr] == [q(TRUST, "RequestedTokenCancelled")]


@pytest.mark.parametrize("message", DECRYPTABLE)
def test_decrypted_messages_match_reference_copies(
    folder: Path, message: str, bootstrap: tuple[EncryptedKey, bytes], sct_secret: bytes
) -> None:
    """In-place decryption gives the tree of decrypted/*.decrypted.xml (whitespace-only text aside)."""
    doc, _ = _open(folder, message, bootstrap, sct_secret)
    expected = _parse(folder, "decrypted/" + message.replace(".xml", ".decrypted.xml"))
    assert _shape(doc) == _shape(expected)


def test_expected_json_matches_transcription(folder: Path) -> None:
    """The literals above are expected.json's values (guards against a silently edited vector file)."""
    data = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    assert data["p_sha1_label"] == "WS-SecureConversationWS-SecureConversation"
    for message, expected in DERIVED_KEYS.items():
        listed = {
            dk["wsu_Id"]: (dk["nonce_b64"], dk["derived_key_hex"]) for dk in data["messages"][message]["derived_keys"]
        }
        assert listed == expected
        assert {(dk["offset"], dk["length"]) for dk in data["messages"][message]["derived_keys"]} == {(0, 16)}
    ek = data["bootstrap_encrypted_key"]
    assert ek["EncryptedKey_Id"] == EK_ID
    assert ek["algorithm"] == RSA_1_5
    assert bytes.fromhex(ek["decrypted_key_hex"]) == EK_KEY
    assert base64.b64decode(ek["decrypted_key_b64"]) == EK_KEY
    assert base64.b64decode(ek["recipient_cert_thumbprint_sha1_b64"]) == SERVICE_THUMBPRINT
    sha1_key = next(k for k in ek if k.startswith("EncryptedKeySHA1_b64"))
    assert base64.b64decode(ek[sha1_key]) == EK_SHA1
    sct = data["sct"]
    assert (sct["Identifier"], sct["wsu_Id"]) == (SCT_IDENTIFIER, SCT_ID)
    assert bytes.fromhex(sct["secret_hex"]) == SCT_SECRET
    secret_key = next(k for k in sct if k.startswith("secret_b64"))
    assert base64.b64decode(sct[secret_key]) == SCT_SECRET

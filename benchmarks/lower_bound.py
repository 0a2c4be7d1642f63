"""The least work any lxml + cryptography implementation must do to unprotect the default message.

No validation at all: parse, derive the two keys, decrypt the signature and the Body (fragment parse and
node moves), canonicalise SignedInfo and the referenced parts, HMAC and digest them, drop the header and
serialise.  Compare its time with WSS4J's unprotect (``benchmarks/compare.py``): when this bound alone
exceeds half of WSS4J's time, "twice WSS4J's throughput" is out of reach for a pure-Python stack on the
machine, whatever the code around it.

    python benchmarks/lower_bound.py
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import sys
import timeit
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parent))
from wss4j_bench import make_envelope

from wssc import namespaces as ns
from wssc.primitives.psha1 import derive_key
from wssc.security.keys import ContextProtection
from wssc.security.protect import protect
from wssc.tokens.sct import SecurityContextToken
from wssc.versions import DEFAULT_LABEL, SC_1_3

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)
_IDS = etree.XPath("//@wsu:Id | //@Id", namespaces={"wsu": ns.WSU})
_DKT, _NONCE, _LENGTH = (SC_1_3.sc_qname(n) for n in ("DerivedKeyToken", "Nonce", "Length"))
_CV = f"{{{ns.XENC}}}CipherData/{{{ns.XENC}}}CipherValue"


def _ids(root: etree._Element) -> dict[str, etree._Element]:
    return {str(a): a.getparent() for a in _IDS(root)}  # type: ignore[union-attr,misc]


def _decrypt_in_place(key: bytes, ed: etree._Element, nsdecl: bytes) -> None:
    data = base64.b64decode(ed.findtext(_CV) or "")
    dec = Cipher(algorithms.AES(key), modes.CBC(data[:16])).decryptor()
    plain = dec.update(data[16:]) + dec.finalize()
    wrapper = etree.fromstring(b"<w " + nsdecl + b">" + plain[: -plain[-1]] + b"</w>", _PARSER)
    for node in list(wrapper):
        ed.addprevious(node)
    parent = ed.getparent()
    assert parent is not None
    parent.remove(ed)


def bare_unprotect(message: bytes, secret: bytes) -> bytes:
    root = etree.fromstring(message, _PARSER)
    security = root[0][0]
    nsdecl = f'xmlns:soap="{root.nsmap["soap"]}" xmlns:wsse="{ns.WSSE}"'.encode()
    keys = [
        derive_key(
            secret, DEFAULT_LABEL.encode(), base64.b64decode(d.findtext(_NONCE) or ""), int(d.findtext(_LENGTH) or 32)
        )
        for d in security.iterchildren(_DKT)
    ]
    ids = _ids(root)
    for ref in security.findall(f"{{{ns.XENC}}}ReferenceList/{{{ns.XENC}}}DataReference"):
        _decrypt_in_place(keys[1], ids[(ref.get("URI") or "#")[1:]], nsdecl)
    signature = security[-1]
    signed_info = signature[0]
    hmac.new(keys[0], etree.tostring(signed_info, method="c14n", exclusive=True), "sha1").digest()
    ids = _ids(root)
    for ref in signed_info.iterchildren(f"{{{ns.DS}}}Reference"):
        target = ids[(ref.get("URI") or "#")[1:]]
        hashlib.sha1(etree.tostring(target, method="c14n", exclusive=True)).digest()
    security.getparent().remove(security)  # type: ignore[union-attr]
    return etree.tostring(root)


def main() -> None:
    secret = os.urandom(32)
    token = ContextProtection(SecurityContextToken("urn:uuid:lower-bound", wsu_id="SCT-1"), secret)
    for size in (1024, 10 * 1024):
        message = protect(make_envelope(size), token).data
        n = 3000
        best = min(timeit.repeat(lambda m=message: bare_unprotect(m, secret), number=n, repeat=3)) / n * 1e6
        print(f"{size // 1024:>2} KB body: bare unprotect {best:.1f} us (no validation at all)")


if __name__ == "__main__":
    main()

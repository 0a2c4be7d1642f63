"""What hostile input costs a service, in one run (issue 7, Done-means 2).

1. Hostile-to-legitimate cost at 1 MiB: the time ``SecureConversationService.receive`` spends refusing each
   hostile request an anonymous sender can make, divided by the time it spends accepting a legitimate 1 MiB
   application request under a context (signed, encrypted, derived keys).  Target: at most 10.
2. Padding oracle: the time to refuse a 512 KiB encrypted Body whose CBC padding is valid (cipher text
   changed further up, so the plaintext is garbage near its end) against one whose padding is invalid.
   Target: a ratio under 1.2 either way.

    python benchmarks/hostile.py [--repeat N]
"""

from __future__ import annotations

import argparse
import base64
import copy
import statistics
import time
import uuid
from collections.abc import Callable

from lxml import etree

from wssc import namespaces as ns
from wssc.conversation.bootstrap import ClientBootstrap, ServiceCredentials
from wssc.conversation.client import ClientSession
from wssc.conversation.service import ApplicationRequest, FaultReply, SecureConversationService
from wssc.errors import WsscError
from wssc.primitives import algorithms as alg
from wssc.primitives.xml import c14n
from wssc.security import dsig
from wssc.security.keys import ContextProtection, EncryptedKeyProtection, StaticKeys
from wssc.security.policy import ProtectionPolicy, Requirements
from wssc.security.protect import protect
from wssc.security.unprotect import Receiver
from wssc.tokens.encrypted_key import EncryptedKey
from wssc.tokens.sct import SecurityContextToken
from wssc.tokens.x509 import X509Token, self_signed

MIB = 1024 * 1024
ACTION = "urn:example:echo"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"


def _time(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _payload(size: int) -> bytes:
    item = b'<m:item xmlns:m="urn:m">' + b"x" * 1000 + b"</m:item>"
    return b'<m:echo xmlns:m="urn:m">' + item * (size // len(item)) + b"</m:echo>"


def _plain(body: bytes, header: bytes = b"") -> bytes:
    return (
        f'<s:Envelope xmlns:s="{SOAP12}" xmlns:u="{ns.WSU}"><s:Header>'.encode()
        + header
        + b"</s:Header><s:Body>"
        + body
        + b"</s:Body></s:Envelope>"
    )


def _attacker_signed(service: ServiceCredentials, plain: bytes) -> tuple[etree._Element, bytes]:
    reference = X509Token(service.certificate).reference("thumbprint")
    ek, secret = EncryptedKey.create(service.certificate, reference, length=32)
    data = protect(plain, EncryptedKeyProtection(ek, secret), ProtectionPolicy(encrypt=False, derived_keys=False)).data
    return etree.fromstring(data), secret


def _resigned(root: etree._Element, secret: bytes, ids: list[str], sig_id: str) -> etree._Element:
    original = root.find(".//" + dsig.SIGNATURE_TAG)
    assert original is not None
    key_info = original.find(ns.qn(ns.DS, "KeyInfo"))
    assert key_info is not None
    index = {el.get(ns.WSU_ID): el for el in root.iter() if isinstance(el.tag, str) and el.get(ns.WSU_ID)}
    parts = [(i, c14n(index[i])) for i in ids]
    xml, _ = dsig.sign(
        parts,
        key=secret,
        method=alg.HMAC_SHA1,
        digest=alg.SHA1,
        key_info_xml="".join(etree.tostring(c, encoding="unicode") for c in key_info),
        signature_id=sig_id,
    )
    return etree.fromstring(xml)


def hostile_requests(service: ServiceCredentials) -> dict[str, bytes]:
    """About 1 MiB each, all made without any credential."""
    out: dict[str, bytes] = {}
    count = MIB // 60
    stamp = "<u:Timestamp><u:Created>2026-01-01T00:00:00Z</u:Created></u:Timestamp>"
    security = f'<wsse:Security xmlns:wsse="{ns.WSSE}">{stamp}</wsse:Security>'
    items = "".join(f'<m:i Id="p{i}" u:Id="q{i}">{i}</m:i>' for i in range(count))
    out["Id and wsu:Id on every element"] = _plain(f'<m:l xmlns:m="urn:m">{items}</m:l>'.encode(), security.encode())
    blocks = "".join(f'<m:h xmlns:m="urn:m" Id="p{i}" u:Id="q{i}">{i}</m:h>' for i in range(count // 2))
    out["Id and wsu:Id on every header block"] = _plain(b"<m:e xmlns:m='urn:m'/>", (security + blocks).encode())

    depth = 30
    nested = "".join(f'<m:n{i} xmlns:m="urn:m" u:Id="n{i}">' for i in range(depth))
    nested += "x" * MIB + "".join(f"</m:n{i}>" for i in reversed(range(depth)))
    root, secret = _attacker_signed(service, _plain(nested.encode()))
    original = root.find(".//" + dsig.SIGNATURE_TAG)
    assert original is not None
    (ts_id,) = root.xpath("//u:Timestamp/@u:Id", namespaces={"u": ns.WSU})
    extra = _resigned(root, secret, [str(ts_id)] + [f"n{i}" for i in range(depth)], "SIG-copy")
    many = copy.deepcopy(root)
    anchor = many.find(".//" + dsig.SIGNATURE_TAG)
    assert anchor is not None
    for n in range(60):
        sig = copy.deepcopy(extra)
        sig.set("Id", f"SIG-copy-{n}")
        anchor.addnext(sig)
    out["60 signatures over 30 nested elements"] = etree.tostring(many)
    nested_refs = copy.deepcopy(root)
    first = nested_refs.find(".//" + dsig.SIGNATURE_TAG)
    assert first is not None and first.getparent() is not None
    first.getparent().replace(first, copy.deepcopy(extra))  # type: ignore[union-attr]
    out["one signature over 30 nested elements"] = etree.tostring(nested_refs)

    eks = copy.deepcopy(root)
    security = eks.find(".//" + ns.qn(ns.WSSE, "Security"))
    ek_el = security.find(ns.qn(ns.XENC, "EncryptedKey")) if security is not None else None
    assert security is not None and ek_el is not None
    for n in range(60):
        clone = copy.deepcopy(ek_el)
        clone.set("Id", f"EK-{n}")
        ek_el.addnext(clone)
    out["61 EncryptedKeys"] = etree.tostring(eks)
    return out


def cost_ratio(repeat: int) -> float:
    certificate, key = self_signed("hostile benchmark")
    credentials = ServiceCredentials(certificate, key)
    service = SecureConversationService(credentials)
    session = ClientSession(ClientBootstrap(certificate), "http://localhost/echo")
    event = service.receive(session.establish())
    assert not isinstance(event, FaultReply)
    session.receive(event.reply.data)

    payload = _payload(MIB)
    requests: list[bytes] = []
    for _ in range(repeat + 1):
        requests.append(session.request(payload, ACTION))
        session._pending = None

    def legitimate() -> None:
        result = service.receive(requests.pop())
        assert isinstance(result, ApplicationRequest), result

    def refuse(data: bytes) -> None:
        assert isinstance(service.receive(data), FaultReply)

    legit = _time(legitimate, repeat)
    print(f"legitimate 1 MiB request under a context: {legit * 1000:.1f} ms")
    return _hostile_ratios("", credentials, legit, refuse, repeat)


def _hostile_ratios(
    where: str, credentials: ServiceCredentials, legit: float, refuse: Callable[[bytes], None], repeat: int
) -> float:
    """Time ``refuse`` on each hostile request, print each against ``legit`` seconds; the worst ratio."""
    worst = 0.0
    for name, data in hostile_requests(credentials).items():
        cost = _time(lambda data=data: refuse(data), repeat)  # type: ignore[misc]
        worst = max(worst, cost / legit)
        print(f"  {name:45s} {len(data) / MIB:5.2f} MiB  {cost * 1000:8.1f} ms  ratio {cost / legit:5.2f}")
    print(f"worst hostile-to-legitimate ratio at 1 MiB{where}: {worst:.2f} (target <= 10)")
    return worst


def permissive_ratio(repeat: int) -> float:
    """The same attacks against a receiver whose policy asks the least (no encrypted signature, no derived
    keys, any suite): there the signatures' digests are reached, and only the limits bound them."""
    certificate, key = self_signed("hostile benchmark, permissive")
    credentials = ServiceCredentials(certificate, key)
    receiver = Receiver(StaticKeys(key_pairs=[(certificate, key)]), Requirements(signed_addressing_headers=False))
    reference = X509Token(certificate).reference("thumbprint")
    legit: list[bytes] = []
    for _ in range(repeat + 1):
        ek, secret = EncryptedKey.create(certificate, reference, length=32)
        protection = EncryptedKeyProtection(ek, secret)
        legit.append(protect(_plain(_payload(MIB)), protection, ProtectionPolicy()).data)

    def legitimate() -> None:
        receiver.unprotect(legit.pop())

    def refuse(data: bytes) -> None:
        try:
            receiver.unprotect(data)
        except WsscError:
            return
        raise AssertionError("accepted")

    base = _time(legitimate, repeat)
    print(f"legitimate 1 MiB bootstrap message, permissive receiver: {base * 1000:.1f} ms")
    return _hostile_ratios(", permissive receiver", credentials, base, refuse, repeat)


def padding_ratio(repeat: int) -> float:
    key = bytes(range(32))
    identifier = "urn:uuid:" + str(uuid.uuid4())
    token = ContextProtection(SecurityContextToken(identifier, wsu_id="SCT-1"), key)
    data = protect(_plain(_payload(512 * 1024)), token, ProtectionPolicy()).data
    requirements = Requirements(signed_addressing_headers=False, detect_replays=False)
    receiver = Receiver(StaticKeys({identifier: key}), requirements)
    root = etree.fromstring(data)
    (cipher,) = root.xpath(
        "//s:Body/xenc:EncryptedData/xenc:CipherData/xenc:CipherValue", namespaces={"s": SOAP12, "xenc": ns.XENC}
    )
    raw = bytearray(base64.b64decode(cipher.text))
    good = bytearray(raw)
    good[-16 * 4] ^= 0x55  # garbles a block near the end: the padding stays valid, the plaintext does not parse
    bad = bytearray(raw)
    last_plain_byte_mask = raw[-1 - 16]
    bad[-1 - 16] = last_plain_byte_mask ^ 0x80  # the last plaintext byte (the pad length) becomes > 16

    def variant(blob: bytearray) -> bytes:
        cipher.text = base64.b64encode(bytes(blob)).decode()
        return etree.tostring(root)

    messages = {"valid padding": variant(good), "invalid padding": variant(bad)}

    def refuse(message: bytes) -> float:
        start = time.perf_counter()
        try:
            receiver.unprotect(message)
        except Exception as exc:
            assert type(exc).__name__ == "BadContextToken", exc
        else:
            raise AssertionError("accepted")
        return time.perf_counter() - start

    samples: dict[str, list[float]] = {name: [] for name in messages}
    for _ in range(repeat * 10):  # interleaved, so that load on the machine hits both alike
        for name, message in messages.items():
            samples[name].append(refuse(message))
    times = {name: statistics.median(values) for name, values in samples.items()}
    for name, value in times.items():
        print(f"  {name:16s} {value * 1000:7.2f} ms")
    ratio = max(times.values()) / min(times.values())
    print(f"padding-oracle timing ratio at 512 KiB: {ratio:.3f} (target < 1.2)")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cost_ratio(args.repeat)
    permissive_ratio(args.repeat)
    padding_ratio(args.repeat)


if __name__ == "__main__":
    main()

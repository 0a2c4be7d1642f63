"""The ``wssc`` command-line contract: derive, protect, unprotect and bench.

Most cases run in-process through click's CliRunner (fast); a few run the installed ``wssc`` console
script to cover the entry point and real stdin/stdout piping.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from lxml import etree

from helpers import (
    NSMAP,
    SUITE_NAMES,
    VERSIONS_BY_NAME,
    Context,
    by_id,
    envelope,
    key_info_ref,
    one,
    parse,
    plain_payload_c14n,
    protect_msg,
    security,
    tostring,
    xp,
)
from wssc import errors
from wssc import namespaces as ns
from wssc.adapters.cli import main
from wssc.primitives import algorithms as alg
from wssc.primitives.xml import c14n
from wssc.security import compiled
from wssc.security.policy import ProtectionPolicy
from wssc.tokens.sct import SecurityContextToken

KAT_SECRET = "eX2EeE969RCv/5Lx8OIGLHtJrSD5PzVzO3tTy9JxU58="
KAT_NONCE = base64.b64encode(bytes(256)).decode()
KAT_KEY = "50UfLeg58TbfADujVeafUAS8typGX9LvqLOXezK/eJY="
CONTEXT_ID = "urn:uuid:6b9c1f0e-3d4a-4c7e-9a15-0e2f4d5c6b7a"
WSA_NAMES = ["Action", "MessageID", "To"]
SIG_LEN = {"Basic256": 24, "Basic128": 16, "Basic256Sha256": 24, "Basic128Sha256": 16}
ENC_LEN = {"Basic256": 32, "Basic128": 16, "Basic256Sha256": 32, "Basic128Sha256": 16}
MODES = {"both": [], "sign-only": ["--sign-only"], "encrypt-only": ["--encrypt-only"]}


def run(args: list[str], input: bytes | None = None) -> Result:
    return CliRunner().invoke(main, args, input=input, catch_exceptions=True)


def b64key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def verdict(result: Result) -> dict:
    """The single JSON object unprotect prints."""
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, result.stdout
    report = json.loads(lines[0])
    assert isinstance(report, dict)
    return report


def assert_rejected(result: Result, fault: str | None = None, prefix: str = "wsse:") -> dict:
    assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
    report = verdict(result)
    assert report["ok"] is False
    assert {"ok", "fault", "reason"} <= set(report)
    assert report["fault"].startswith(prefix)
    if fault is not None:
        assert report["fault"] == fault
    (cls,) = [e for e in errors.ALL_ERRORS if f"{e.code_kind}:{e.code}" == report["fault"]]
    assert report["reason"] == cls.reason
    return report


def protect_cli(tmp_path: Path, key: str, plain: bytes, *options: str, context_id: str = CONTEXT_ID) -> bytes:
    src, dst = tmp_path / "plain.xml", tmp_path / "protected.xml"
    src.write_bytes(plain)
    result = run(["protect", "--key-b64", key, "--context-id", context_id, *options, str(src), str(dst)])
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    assert result.stdout == ""
    return dst.read_bytes()


def unprotect_cli(tmp_path: Path, key: str, data: bytes, *options: str) -> tuple[Result, Path]:
    src, dst = tmp_path / "in.xml", tmp_path / "out.xml"
    src.write_bytes(data)
    if dst.exists():
        dst.unlink()
    return run(["unprotect", "--key-b64", key, *options, str(src), str(dst)]), dst


# --- derive ------------------------------------------------------------------------------------------


def test_derive_known_answer() -> None:
    result = run(["derive", "--secret-b64", KAT_SECRET, "--nonce-b64", KAT_NONCE, "--length", "32", "--offset", "0"])
    assert result.exit_code == 0
    assert result.stdout == KAT_KEY + "\n"
    assert result.stderr == ""


def test_derive_defaults_are_length_32_offset_0() -> None:
    result = run(["derive", "--secret-b64", KAT_SECRET, "--nonce-b64", KAT_NONCE])
    assert result.exit_code == 0
    assert result.stdout.strip() == KAT_KEY


def test_derive_generation_is_offset_generation_times_length() -> None:
    base = ["derive", "--secret-b64", KAT_SECRET, "--nonce-b64", KAT_NONCE]
    by_generation = run([*base, "--generation", "1", "--length", "16"])
    by_offset = run([*base, "--offset", "16", "--length", "16"])
    assert by_generation.exit_code == by_offset.exit_code == 0
    assert by_generation.stdout == by_offset.stdout
    assert base64.b64decode(by_generation.stdout) == base64.b64decode(KAT_KEY)[16:32]
    assert (
        run([*base, "--generation", "0", "--length", "16"]).stdout.strip()
        == base64.b64encode(base64.b64decode(KAT_KEY)[:16]).decode()
    )


def test_derive_label_changes_the_key() -> None:
    base = ["derive", "--secret-b64", KAT_SECRET, "--nonce-b64", KAT_NONCE]
    default = run([*base, "--label", "WS-SecureConversationWS-SecureConversation"]).stdout
    assert default.strip() == KAT_KEY
    other = run([*base, "--label", "WS-SecureConversation"]).stdout
    assert other.strip() and other != default


@pytest.mark.parametrize(
    "extra",
    [
        ["--offset", "1", "--generation", "1"],
        ["--length", "0"],
        ["--offset", "-1"],
    ],
    ids=["offset-and-generation", "zero-length", "negative-offset"],
)
def test_derive_usage_errors(extra: list[str]) -> None:
    result = run(["derive", "--secret-b64", KAT_SECRET, "--nonce-b64", KAT_NONCE, *extra])
    assert result.exit_code == 2
    assert result.stdout == ""


def test_derive_bad_base64() -> None:
    assert run(["derive", "--secret-b64", "not base64!", "--nonce-b64", KAT_NONCE]).exit_code == 2
    assert run(["derive", "--secret-b64", KAT_SECRET, "--nonce-b64", "%%%"]).exit_code == 2


# --- protect / unprotect matrix --------------------------------------------------------------------------


def _expected_algorithms(suite: str) -> tuple[str, str, str]:
    s = alg.suite(suite)
    return s.symmetric_signature, s.digest, s.encryption


@pytest.mark.parametrize("soap", ["1.1", "1.2"])
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("suite", SUITE_NAMES)
@pytest.mark.parametrize("sct_ref", ["local", "identifier", "external"])
@pytest.mark.parametrize("sc_version", ["1.3", "2005-02"])
def test_protect_unprotect_matrix(
    tmp_path: Path, sc_version: str, sct_ref: str, suite: str, mode: str, soap: str
) -> None:
    key = b64key()
    version = VERSIONS_BY_NAME[sc_version]
    plain = envelope(soap)
    options = ["--sc-version", sc_version, "--suite", suite, "--sct-ref", sct_ref, *MODES[mode]]
    data = protect_cli(tmp_path, key, plain, *options)
    sign, encrypt = mode != "encrypt-only", mode != "sign-only"
    sig_method, digest, cipher = _expected_algorithms(suite)

    # --- structure of the protected message
    root = parse(data)
    soap_ns = ns.SOAP11 if soap == "1.1" else ns.SOAP12
    assert root.tag == ns.qn(soap_ns, "Envelope")
    sec = security(root)
    assert len(xp(root, "//wsse:Security")) == 1
    assert len(xp(sec, "wsu:Timestamp")) == 1
    sct_tag = version.sc_qname("SecurityContextToken")
    scts = list(sec.iter(sct_tag))
    other_ns = next(v for v in VERSIONS_BY_NAME.values() if v is not version)
    assert not list(root.iter(other_ns.sc_qname("SecurityContextToken"), other_ns.sc_qname("DerivedKeyToken")))
    if sct_ref == "external":
        assert scts == []
    else:
        assert len(scts) == 1
        assert scts[0].findtext(version.sc_qname("Identifier")) == CONTEXT_ID
    dk_elements = list(sec.iter(version.sc_qname("DerivedKeyToken")))
    assert len(dk_elements) == (2 if sign and encrypt else 1)
    for dk in dk_elements:
        assert dk.get("Algorithm") in (None, version.p_sha1)
        ref = one(dk, "wsse:SecurityTokenReference/wsse:Reference")
        if sct_ref == "local":
            assert ref.get("URI") == "#" + scts[0].get(ns.WSU_ID)
        else:
            assert ref.get("URI") == CONTEXT_ID
            assert ref.get("ValueType") == version.sct_token_type
        assert dk.findtext(version.sc_qname("Offset"), "0") == "0"
        assert dk.find(version.sc_qname("Generation")) is None
        assert len(base64.b64decode(dk.findtext(version.sc_qname("Nonce")))) >= 16

    def length(dk: etree._Element) -> int:
        return int(dk.findtext(version.sc_qname("Length"), "32"))

    body_el = one(root, "/*/*[local-name()='Body']")
    if encrypt:
        (ed,) = list(body_el)
        assert ed.tag == ns.qn(ns.XENC, "EncryptedData")
        assert ed.get("Type") == ns.XENC_CONTENT
        assert one(ed, "xenc:EncryptionMethod").get("Algorithm") == cipher
        enc_dk = by_id(root, key_info_ref(ed)[1:])
        assert length(enc_dk) == ENC_LEN[suite]
        assert b"hello" not in data
        if sign:
            (sig_dk,) = [d for d in dk_elements if d is not enc_dk]
            assert length(sig_dk) == SIG_LEN[suite]
            assert not xp(root, "//ds:Signature")  # the signature is encrypted (sp:EncryptSignature)
            assert xp(sec, f"xenc:EncryptedData[@Type='{ns.XENC_ELEMENT}']")
        else:
            assert not xp(root, "//ds:Signature")
            assert not xp(sec, "xenc:EncryptedData")
    else:
        assert plain_payload_c14n(plain) == [c14n(c) for c in body_el if isinstance(c.tag, str)]
        sig = one(sec, "ds:Signature")
        assert one(sig, "ds:SignedInfo/ds:SignatureMethod").get("Algorithm") == sig_method
        digests = {d.get("Algorithm") for d in xp(sig, "ds:SignedInfo/ds:Reference/ds:DigestMethod")}
        assert digests == {digest}
        assert length(by_id(root, key_info_ref(sig)[1:])) == SIG_LEN[suite]
        assert not xp(root, "//xenc:EncryptedData")

    # --- unprotect
    result, out = unprotect_cli(tmp_path, key, data)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    report = verdict(result)
    assert {"ok", "context", "signed", "encrypted", "algorithms"} <= set(report)
    assert report["ok"] is True
    assert report["context"] == CONTEXT_ID
    if sign:
        assert set(report["signed"]) == {"Timestamp", "Body", *WSA_NAMES}
        assert report["algorithms"]["signature"] == sig_method
        assert report["algorithms"]["digest"] == digest
    else:
        assert report["signed"] == []
    expected_encrypted = {"both": ["Body", "Signature"], "sign-only": [], "encrypt-only": ["Body"]}[mode]
    assert sorted(report["encrypted"]) == sorted(expected_encrypted)
    if encrypt:
        assert report["algorithms"]["encryption"] == cipher

    plain_out = parse(out.read_bytes())
    assert plain_out.tag == ns.qn(soap_ns, "Envelope")
    assert not xp(plain_out, "//wsse:Security")
    assert not xp(plain_out, "//xenc:EncryptedData")
    assert [etree.QName(h).localname for h in xp(plain_out, "/*/*[1]/*")] == WSA_NAMES
    body_out = one(plain_out, "/*/*[local-name()='Body']")
    assert plain_payload_c14n(plain) == [c14n(c) for c in body_out if isinstance(c.tag, str)]

    # --- the same message with --context-id: accepted for its own context, rejected for another
    result, _ = unprotect_cli(tmp_path, key, data, "--context-id", CONTEXT_ID)
    assert verdict(result)["ok"] is True
    result, out = unprotect_cli(tmp_path, key, data, "--context-id", "urn:uuid:someone-else")
    assert_rejected(result, "wsc:BadContextToken", prefix="wsc:")
    assert not out.exists()


def test_protect_defaults(tmp_path: Path) -> None:
    """Defaults: WS-SC 1.3, Basic256, SCT in the header referenced by #wsu:Id, sign and encrypt."""
    key = b64key()
    data = protect_cli(tmp_path, key, envelope())
    root = parse(data)
    sec = security(root)
    (sct,) = xp(sec, "sc13:SecurityContextToken")
    assert not xp(root, "//sc05:*")
    dk_elements = xp(sec, "sc13:DerivedKeyToken")
    assert sorted(int(d.findtext(f"{{{NSMAP['sc13']}}}Length")) for d in dk_elements) == [24, 32]
    for dk in dk_elements:
        assert one(dk, "wsse:SecurityTokenReference/wsse:Reference").get("URI") == "#" + sct.get(ns.WSU_ID)
    methods = {m.get("Algorithm") for m in xp(root, "//xenc:EncryptedData/xenc:EncryptionMethod")}
    assert methods == {alg.AES256_CBC}  # the Body and the encrypted signature
    result, _ = unprotect_cli(tmp_path, key, data)
    report = verdict(result)
    assert report["algorithms"]["signature"] == alg.HMAC_SHA1
    assert report["algorithms"]["encryption"] == alg.AES256_CBC


# --- rejections ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(MODES))
def test_wrong_key_is_bad_context_token(tmp_path: Path, mode: str) -> None:
    """A failed check under a context key is wsc:BadContextToken (a receiver cannot tell a wrong key from an
    unknown context, and must not tell an unauthenticated sender which it is)."""
    data = protect_cli(tmp_path, b64key(), envelope(), *MODES[mode])
    result, out = unprotect_cli(tmp_path, b64key(), data)
    report = assert_rejected(result, "wsc:BadContextToken", prefix="wsc:")
    assert report["reason"] == errors.BadContextToken.reason
    assert not out.exists()


@pytest.mark.parametrize("sct_ref", ["local", "identifier", "external"])
def test_other_context_is_bad_context_token(tmp_path: Path, sct_ref: str) -> None:
    key = b64key()
    data = protect_cli(tmp_path, key, envelope(), "--sct-ref", sct_ref, context_id="urn:example:context:A")
    result, _ = unprotect_cli(tmp_path, key, data, "--context-id", "urn:example:context:B")
    assert_rejected(result, "wsc:BadContextToken", prefix="wsc:")
    result, _ = unprotect_cli(tmp_path, key, data, "--context-id", "urn:example:context:A")
    assert verdict(result)["context"] == "urn:example:context:A"


def test_require_encryption_rejects_sign_only(tmp_path: Path) -> None:
    key = b64key()
    data = protect_cli(tmp_path, key, envelope(), "--sign-only")
    result, out = unprotect_cli(tmp_path, key, data, "--require", "encryption")
    assert_rejected(result, "wsse:InvalidSecurity")
    assert not out.exists()
    result, _ = unprotect_cli(tmp_path, key, data, "--require", "signature,timestamp")
    assert verdict(result)["ok"] is True


def test_require_signature_rejects_encrypt_only(tmp_path: Path) -> None:
    key = b64key()
    data = protect_cli(tmp_path, key, envelope(), "--encrypt-only")
    result, _ = unprotect_cli(tmp_path, key, data, "--require", "signature")
    assert_rejected(result, "wsse:InvalidSecurity")
    result, _ = unprotect_cli(tmp_path, key, data, "--require", "encryption,timestamp")
    assert verdict(result)["ok"] is True


def test_require_everything_accepts_default_message(tmp_path: Path) -> None:
    key = b64key()
    data = protect_cli(tmp_path, key, envelope())
    result, _ = unprotect_cli(tmp_path, key, data, "--require", "signature,encryption,timestamp")
    assert verdict(result)["ok"] is True


def test_require_timestamp(tmp_path: Path) -> None:
    ctx = Context(SecurityContextToken(CONTEXT_ID, wsu_id="SCT-1"), os.urandom(32))
    data = protect_msg(ctx, ProtectionPolicy(include_timestamp=False))
    key = base64.b64encode(ctx.key).decode()
    result, _ = unprotect_cli(tmp_path, key, data, "--require", "timestamp")
    assert_rejected(result, "wsse:InvalidSecurity")
    result, _ = unprotect_cli(tmp_path, key, data)
    assert verdict(result)["ok"] is True


def test_unknown_requirement_is_a_usage_error(tmp_path: Path) -> None:
    result, _ = unprotect_cli(tmp_path, b64key(), envelope(), "--require", "signature,magic")
    assert result.exit_code == 2


def _context_message(minutes: float, policy: ProtectionPolicy | None = None) -> tuple[bytes, str]:
    ctx = Context(SecurityContextToken(CONTEXT_ID, wsu_id="SCT-1"), os.urandom(32))
    now = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=minutes)
    return protect_msg(ctx, policy, now=now), base64.b64encode(ctx.key).decode()


def test_expired_message_with_small_max_skew(tmp_path: Path) -> None:
    data, key = _context_message(-10)  # created 10 minutes ago, expired 5 minutes ago
    result, out = unprotect_cli(tmp_path, key, data, "--max-skew", "1")
    assert_rejected(result, "wsse:MessageExpired")
    assert not out.exists()
    result, _ = unprotect_cli(tmp_path, key, data, "--max-skew", "600")
    assert verdict(result)["ok"] is True
    result, _ = unprotect_cli(tmp_path, key, data)  # default skew: 300 s, just short
    assert_rejected(result, "wsse:MessageExpired")


def test_future_message_with_small_max_skew(tmp_path: Path) -> None:
    data, key = _context_message(10)
    result, _ = unprotect_cli(tmp_path, key, data, "--max-skew", "5")
    assert_rejected(result, "wsse:InvalidSecurity")
    result, _ = unprotect_cli(tmp_path, key, data, "--max-skew", "900")
    assert verdict(result)["ok"] is True


@pytest.mark.parametrize(
    "data",
    [b"", b"garbage \x00\xff", b"<root/>", envelope(), envelope("1.1", header=False)],
    ids=["empty", "garbage", "not-soap", "plain-soap12", "plain-soap11-no-header"],
)
def test_unprotected_or_garbage_input_is_rejected(tmp_path: Path, data: bytes) -> None:
    result, out = unprotect_cli(tmp_path, b64key(), data)
    assert_rejected(result, "wsse:InvalidSecurity")
    assert not out.exists()


def test_message_without_signature_or_decryption_is_rejected(tmp_path: Path) -> None:
    """A Security header holding only a Timestamp, the SCT and a derived key proves nothing."""
    key = b64key()
    data = protect_cli(tmp_path, key, envelope(), "--sign-only")
    root = parse(data)
    sec = security(root)
    sec.remove(one(sec, "ds:Signature"))
    result, _ = unprotect_cli(tmp_path, key, tostring(root))
    assert_rejected(result, "wsse:InvalidSecurity")


def test_tampered_message_is_rejected(tmp_path: Path) -> None:
    key = b64key()
    data = protect_cli(tmp_path, key, envelope(), "--sign-only")
    result, _ = unprotect_cli(tmp_path, key, data.replace(b"hello", b"HELLO"))
    assert_rejected(result, "wsc:BadContextToken", prefix="wsc:")


def test_output_has_no_security_header_in_either_soap_version(tmp_path: Path) -> None:
    key = b64key()
    for soap in ("1.1", "1.2"):
        data = protect_cli(tmp_path, key, envelope(soap))
        result, out = unprotect_cli(tmp_path, key, data)
        assert verdict(result)["ok"] is True
        plain_out = parse(out.read_bytes())
        assert not xp(plain_out, "//wsse:Security | //sc13:* | //xenc:* | //ds:*")
        assert plain_payload_c14n(envelope(soap)) == plain_payload_c14n(out.read_bytes())


# --- protect usage errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        ["--sign-only", "--encrypt-only"],
        ["--suite", "Basic512"],
        ["--sc-version", "2004-04"],
        ["--sct-ref", "inline"],
    ],
    ids=["both-only-flags", "suite", "version", "sct-ref"],
)
def test_protect_usage_errors(tmp_path: Path, options: list[str]) -> None:
    src = tmp_path / "in.xml"
    src.write_bytes(envelope())
    result = run(["protect", "--key-b64", b64key(), "--context-id", CONTEXT_ID, *options, str(src), "-"])
    assert result.exit_code == 2
    assert result.stdout == ""


def test_protect_bad_key_and_bad_input(tmp_path: Path) -> None:
    src = tmp_path / "in.xml"
    src.write_bytes(envelope())
    assert run(["protect", "--key-b64", "!!", "--context-id", CONTEXT_ID, str(src), "-"]).exit_code == 2
    for bad in (b"<not-soap/>", b"garbage", b'<!DOCTYPE x [<!ENTITY e "x">]><x/>'):
        src.write_bytes(bad)
        result = run(["protect", "--key-b64", b64key(), "--context-id", CONTEXT_ID, str(src), "-"])
        assert result.exit_code == 1
        assert isinstance(result.exception, SystemExit)  # a ClickException, not a traceback
        assert "wsse:InvalidSecurity" in result.stderr


def test_protect_input_with_relative_namespace_is_an_error_not_a_crash(tmp_path: Path) -> None:
    """Regression: c14n of a relative namespace URI used to escape as lxml.etree.C14NError."""
    src = tmp_path / "in.xml"
    src.write_bytes(envelope(payload=b'<m:echo xmlns:m="relative-namespace"/>'))
    result = run(["protect", "--key-b64", b64key(), "--context-id", CONTEXT_ID, str(src), "-"])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)


# --- stdin / stdout and the installed console script -------------------------------------------------------


@pytest.fixture(scope="module")
def wssc_exe() -> list[str]:
    exe = shutil.which("wssc")
    if exe is None:
        pytest.fail("the wssc console script is not installed")
    return [exe]


def test_stdin_stdout_pipeline_through_console_script(tmp_path: Path, wssc_exe: list[str]) -> None:
    key = b64key()
    plain = envelope("1.1")
    protected = subprocess.run(
        [*wssc_exe, "protect", "--key-b64", key, "--context-id", CONTEXT_ID, "--sct-ref", "external", "-", "-"],
        input=plain,
        capture_output=True,
        check=True,
        timeout=60,
    )
    assert protected.stderr == b""
    root = parse(protected.stdout)
    assert root.tag == ns.qn(ns.SOAP11, "Envelope")
    assert not xp(root, "//sc13:SecurityContextToken")

    # stdin in, file out: the verdict is the only thing on stdout
    out = tmp_path / "plain.xml"
    verdict_run = subprocess.run(
        [*wssc_exe, "unprotect", "--key-b64", key, "-", str(out)],
        input=protected.stdout,
        capture_output=True,
        check=True,
        timeout=60,
    )
    report = json.loads(verdict_run.stdout)
    assert report["ok"] is True and report["context"] == CONTEXT_ID
    assert not xp(parse(out.read_bytes()), "//wsse:Security")

    # file in, stdout out: stdout carries the envelope (so the verdict cannot be there too)
    src = tmp_path / "protected.xml"
    src.write_bytes(protected.stdout)
    to_stdout = subprocess.run(
        [*wssc_exe, "unprotect", "--key-b64", key, str(src), "-"], check=False, capture_output=True, timeout=60
    )
    assert to_stdout.returncode == 0
    plain_out = parse(to_stdout.stdout)
    assert not xp(plain_out, "//wsse:Security")
    assert plain_payload_c14n(plain) == [c14n(c) for c in one(plain_out, "/*/*[local-name()='Body']")]
    assert json.loads(to_stdout.stderr)["ok"] is True


def test_stdin_and_stdout_in_process(tmp_path: Path) -> None:
    key = b64key()
    result = run(["protect", "--key-b64", key, "--context-id", CONTEXT_ID, "-", "-"], input=envelope())
    assert result.exit_code == 0
    protected = result.stdout_bytes
    assert xp(parse(protected), "//wsse:Security")
    out = tmp_path / "o.xml"
    result = run(["unprotect", "--key-b64", key, "-", str(out)], input=protected)
    assert verdict(result)["ok"] is True
    result = run(["unprotect", "--key-b64", b64key(), "-", "-"], input=protected)
    assert result.exit_code == 1
    assert json.loads(result.stdout)["fault"] == "wsc:BadContextToken"


def test_unprotect_failure_through_console_script(wssc_exe: list[str]) -> None:
    done = subprocess.run(
        [*wssc_exe, "unprotect", "--key-b64", b64key(), "-", "-"],
        input=b"nonsense",
        check=False,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["ok"] is False and report["fault"] == "wsse:InvalidSecurity"


def test_derive_through_console_script(wssc_exe: list[str]) -> None:
    done = subprocess.run(
        [*wssc_exe, "derive", "--secret-b64", KAT_SECRET, "--nonce-b64", KAT_NONCE, "--length", "32", "--offset", "0"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    assert done.stdout == (KAT_KEY + "\n").encode()
    assert done.stderr == b""


# --- bench -------------------------------------------------------------------------------------------------------


def test_bench_json() -> None:
    result = run(["bench", "--json", "--seconds", "0.2"])
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    report = verdict(result)
    keys = {"protect_us", "unprotect_us", "floor_us", "ratio"}
    row = keys | {"body_bytes", "protected_bytes", "messages_per_second"}
    assert set(report) == row | {"10k", "core"}  # the keys it always had, and the path measured (issue 11)
    assert set(report["10k"]) == row
    assert report["core"] == compiled.active()
    assert compiled.active() == ("rust" if compiled.installed() and compiled.core() is not None else "python")
    for row in (report, report["10k"]):
        for name in keys:
            assert isinstance(row[name], (int, float)) and row[name] > 0


def test_version_option() -> None:
    result = run(["--version"])
    assert result.exit_code == 0
    assert "version" in result.stdout.lower()


def test_console_script_help(wssc_exe: list[str]) -> None:
    """The console script and the click group are the same program."""
    done = subprocess.run([*wssc_exe, "--help"], capture_output=True, check=True, timeout=60)
    in_process = run(["--help"])
    for command in ("derive", "protect", "unprotect", "bench"):
        assert command.encode() in done.stdout
        assert command in in_process.stdout


# --- known bugs ----------------------------------------------------------------------------------------------


def test_failure_verdict_has_exactly_the_contract_keys(tmp_path: Path) -> None:
    key = b64key()
    data = protect_cli(tmp_path, key, envelope(), "--sign-only")
    result, _ = unprotect_cli(tmp_path, key, data.replace(b"hello", b"HELLO"))
    assert set(assert_rejected(result, prefix="wsc:")) == {"ok", "fault", "reason"}


@pytest.mark.parametrize("sct_ref", ["local", "identifier", "external"])
def test_protect_rejects_context_id_that_is_not_a_uri(tmp_path: Path, sct_ref: str) -> None:
    src = tmp_path / "in.xml"
    src.write_bytes(envelope())
    result = run(["protect", "--key-b64", b64key(), "--context-id", "not a uri", "--sct-ref", sct_ref, str(src), "-"])
    assert result.exit_code != 0
    assert result.stdout == ""

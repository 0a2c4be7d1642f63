"""The Rust core's exclusive c14n (``wssc._core.exc_c14n``) against lxml's, byte for byte (issue 11: "the
core's exclusive c14n is byte-identical to lxml's on the W3C exclusive-c14n examples, on every message in the
test suite, and on generated documents").  Skipped when ``wssc._core`` is not built (``pip install .`` with
cargo builds it).

Three sources of documents: (a) the W3C examples (Canonical XML 1.0 section 3, exclusive c14n section 2.2),
(b) every protected message the suite's helpers make for a context (every suite, policy option, STR style, SOAP
version and WS-SC version; the wire message and the decrypted envelope the receiver verified), the fuzz
corpus's requests of every kind, and the XML files under ``../shared/vectors`` (skipped when absent), (c)
generated documents and mutants.  Every element of every document is canonicalized by both (selected by its
path of child indices, and by its Id when it has a unique one), with no PrefixList, with ``#default``, and with
every prefix in scope.

The suite's sizes keep it under 20 s; more cases, with the totals printed (``-s``)::

    WSSC_C14N_CASES=100000 WSSC_C14N_MUTANTS=300000 python -m pytest tests/core/test_c14n_differential.py -q -s
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

import helpers as h  # the suite's message generators
import receive_corpus

core = pytest.importorskip("wssc._core", reason="the compiled core is not built (pip install . with cargo)")

WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
XML_ID = "{http://www.w3.org/XML/1998/namespace}id"

#: what each source compared, for the closing report (printed with -s)
TOTALS: dict[str, list[int]] = {}
#: elements compared (each canonicalized several times: by path, by id, with three PrefixLists)
ELEMENTS = [0]


#: lxml hands libxml2 only the PrefixList entries interned in its thread's parser dictionary: "" (for
#: ``#default``) is dropped until some document has put "" there (``xmlns=""`` does).  Put it there first, so
#: that lxml treats ``#default`` as the specification (and the core) do; test_lxml_default_prefix_history
#: shows the other behaviour.
etree.fromstring(b'<prime xmlns=""/>')


def _parser() -> etree.XMLParser:
    # wssc.primitives.xml's settings, comments kept (they must vanish from the canonical form anyway)
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, collect_ids=False)


def lxml_c14n(el: etree._Element, prefixes: list[str] | None) -> bytes:
    incl = [p if p != "#default" else "" for p in prefixes] if prefixes is not None else None
    return etree.tostring(el, method="c14n", exclusive=True, with_comments=False, inclusive_ns_prefixes=incl or None)


def path_of(el: etree._Element) -> list[int]:
    path: list[int] = []
    while (parent := el.getparent()) is not None:
        path.insert(0, [c for c in parent if isinstance(c.tag, str)].index(el))
        el = parent
    return path


def ids_of(el: etree._Element) -> list[str]:
    return [v for v in (el.get(f"{{{WSU}}}Id"), el.get("Id"), el.get(XML_ID)) if v]


def prefix_lists(el: etree._Element) -> list[list[str] | None]:
    in_scope = sorted(p if p is not None else "#default" for p in el.nsmap)
    return [None, ["#default"], in_scope]


def compare_document(data: bytes, source: str, *, lxml_must_parse: bool = True) -> tuple[int, list[str]]:
    """Compare every element of ``data``; (comparisons made, differences as messages)."""
    problems: list[str] = []
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError:
        if lxml_must_parse:
            raise
        # lxml refuses it: the core must refuse it too
        try:
            core.exc_c14n(data, None, None)
        except (core.C14nRefused, LookupError):
            return 0, []
        return 0, [f"{source}: lxml refuses the document, the core canonicalizes it"]
    all_ids: dict[str, int] = {}
    for el in root.iter(etree.Element):
        for value in set(ids_of(el)):
            all_ids[value] = all_ids.get(value, 0) + 1
    compared = 0
    for el in root.iter(etree.Element):
        ELEMENTS[0] += 1
        path = path_of(el)
        for prefixes in prefix_lists(el):
            try:
                expected: bytes | None = lxml_c14n(el, prefixes)
            except etree.C14NError:
                expected = None
            try:
                got: bytes | None = core.exc_c14n_path(data, path, prefixes)
            except core.C14nRefused:
                got = None
            compared += 1
            if got != expected:
                problems.append(f"{source} path {path} prefixes {prefixes}:\n lxml {expected!r}\n core {got!r}")
            for value in set(ids_of(el)):
                try:
                    by_id: bytes | None = core.exc_c14n(data, value, prefixes)
                except core.C14nRefused:
                    by_id = None  # refused: lxml must have failed too, or the id is carried twice
                want = expected if all_ids[value] == 1 else None
                compared += 1
                if by_id != want:
                    problems.append(f"{source} id {value!r} prefixes {prefixes}:\n lxml {want!r}\n core {by_id!r}")
    # every element with a unique id, each with its in-scope PrefixList, plus the document element: one pass
    unique = [(el, v) for el in root.iter(etree.Element) for v in dict.fromkeys(ids_of(el)) if all_ids[v] == 1]
    if unique:
        requests = [(v, prefix_lists(el)[2]) for el, v in unique] + [(None, None)]
        try:
            wanted: list[bytes] | None = [lxml_c14n(el, p) for (el, _), (_, p) in zip(unique, requests, strict=False)]
            wanted.append(lxml_c14n(root, None))  # type: ignore[union-attr]
        except etree.C14NError:
            wanted = None
        try:
            forms: list[bytes] | None = core.exc_c14n_many(data, requests)
        except core.C14nRefused:
            forms = None
        compared += len(requests)
        if forms != wanted:
            problems.append(f"{source} in one pass {requests}:\n lxml {wanted!r}\n core {forms!r}")
    return compared, problems


def _run(name: str, documents: Iterator[tuple[str, bytes]], *, lxml_must_parse: bool = True) -> None:
    total_docs = total = 0
    elements_before = ELEMENTS[0]
    problems: list[str] = []
    for source, data in documents:
        compared, found = compare_document(data, source, lxml_must_parse=lxml_must_parse)
        total_docs += 1
        total += compared
        problems.extend(found)
    elements = ELEMENTS[0] - elements_before
    TOTALS[name] = [total_docs, elements, total, len(problems)]
    print(f"\n[{name}] {total_docs} documents, {elements} elements, {total} canonicalizations compared, "
          f"{len(problems)} differences")
    assert not problems, "\n".join(problems[:20])


# --- (a) the W3C examples ----------------------------------------------------------------------------

#: xml-exc-c14n section 2.2: the same n1:elem2 in two documents; its exclusive form is the same in both.
EXC_EXAMPLE_1 = b"""<n0:local xmlns:n0="foo:bar" xmlns:n3="ftp://example.org">
  <n1:elem2 xmlns:n1="http://example.net" xml:lang="en">
    <n3:stuff xmlns:n3="ftp://example.org"/>
  </n1:elem2>
</n0:local>"""
EXC_EXAMPLE_2 = b"""<n2:pdu xmlns:n1="http://example.com" xmlns:n2="http://foo.example" \
xml:lang="fr" xml:space="retain">
  <n1:elem2 xmlns:n1="http://example.net" xml:lang="en">
    <n3:stuff xmlns:n3="ftp://example.org"/>
  </n1:elem2>
</n2:pdu>"""
EXC_EXPECTED = b"""<n1:elem2 xmlns:n1="http://example.net" xml:lang="en">
    <n3:stuff xmlns:n3="ftp://example.org"></n3:stuff>
  </n1:elem2>"""

#: Canonical XML 1.0 section 3, the examples that need no DTD (3.3 and 3.4 without their attribute defaults
#: and entities, which a SOAP message cannot have)
C14N_EXAMPLES = {
    "3.1 PIs, comments, outside": b"""<?xml version="1.0"?>

<?xml-stylesheet   href="doc.xsl"
   type="text/xsl"   ?>

<doc>Hello, world!<!-- Comment 1 --></doc>

<?pi-without-data     ?>

<!-- Comment 2 -->

<!-- Comment 3 -->""",
    "3.2 whitespace": b"""<doc>
   <clean>   </clean>
   <dirty>   A   B   </dirty>
   <mixed>
      A
      <clean>   </clean>
      B
      <dirty>   A   B   </dirty>
      C
   </mixed>
</doc>""",
    "3.3 start and end tags": b"""<doc>
   <e1   />
   <e2   ></e2>
   <e3   name = "elem3"   id="elem3"   />
   <e4   name="elem4"   id="elem4"   ></e4>
   <e5 a:attr="out" b:attr="sorted" attr2="all" attr="I'm"
      xmlns:b="http://www.ietf.org"
      xmlns:a="http://www.w3.org"
      xmlns="http://example.org"/>
   <e6 xmlns="" xmlns:a="http://www.w3.org">
      <e7 xmlns="http://www.ietf.org">
         <e8 xmlns="" xmlns:a="http://www.w3.org">
            <e9 xmlns="" xmlns:a="http://www.ietf.org"/>
         </e8>
      </e7>
   </e6>
</doc>""",
    "3.4 character modifications": b"""<doc>
   <text>First line&#x0d;&#10;Second line</text>
   <value>&#x32;</value>
   <compute><![CDATA[value>"0" && value<"10" ?"valid":"error"]]></compute>
   <compute expr='value>"0" &amp;&amp; value&lt;"10" ?"valid":"error"'>valid</compute>
   <norm attr=' &apos;   &#x20;&#13;&#xa;&#9;   &apos; '/>
   <normNames attr='   A   &#x20;&#13;&#xa;&#9;   B   '/>
   <normId id=' &apos;   &#x20;&#13;&#xa;&#9;   &apos; '/>
</doc>""",
    "3.6 UTF-8": b'<?xml version="1.0" encoding="ISO-8859-1"?>\n<doc>&#169;</doc>'.replace(b"ISO-8859-1", b"UTF-8"),
    # not from the specifications: a default namespace in scope, unused by prefixed elements (lxml ignores
    # #default on the PrefixList), an unqualified child undeclaring it
    "#default on the PrefixList": (
        b"""<E xmlns="urn:e" xmlns:p="urn:p"><A Id="a"><p:B Id="b">t<c/></p:B></A><C Id="c"/></E>"""
    ),
    "3.7 subsets (namespaces)": b"""<doc xmlns="http://www.ietf.org" xmlns:w3c="http://www.w3.org">
   <e1>
      <e2 xmlns="">
         <e3 id="E3"/>
      </e2>
   </e1>
</doc>""",
}


def test_w3c_exclusive_example() -> None:
    for doc in (EXC_EXAMPLE_1, EXC_EXAMPLE_2):
        assert core.exc_c14n_path(doc, [0], None) == EXC_EXPECTED
    _run("W3C examples", iter([("exc 2.2 #1", EXC_EXAMPLE_1), ("exc 2.2 #2", EXC_EXAMPLE_2), *C14N_EXAMPLES.items()]))


LXML_HISTORY_PROBE = """
from lxml import etree
doc = b'<E xmlns="urn:e" xmlns:p="urn:p"><A><p:B>t</p:B></A></E>'
print(etree.tostring(etree.fromstring(doc)[0][0], method="c14n", exclusive=True, inclusive_ns_prefixes=[""]).decode())
etree.fromstring(b'<a xmlns=""/>')
print(etree.tostring(etree.fromstring(doc)[0][0], method="c14n", exclusive=True, inclusive_ns_prefixes=[""]).decode())
"""


def test_lxml_default_prefix_history() -> None:
    """Documents lxml's behaviour (and so wssc's Python path): ``#default`` on a PrefixList is ignored in a
    fresh thread, honoured once any document with ``xmlns=""`` was parsed.  The core always honours it."""
    out = subprocess.run([sys.executable, "-c", LXML_HISTORY_PROBE], capture_output=True, text=True, check=True)
    fresh, primed = out.stdout.splitlines()
    assert fresh == '<p:B xmlns:p="urn:p">t</p:B>'
    assert primed == '<p:B xmlns="urn:e" xmlns:p="urn:p">t</p:B>'
    doc = b'<E xmlns="urn:e" xmlns:p="urn:p"><A><p:B>t</p:B></A></E>'
    assert core.exc_c14n_path(doc, [0, 0], ["#default"]).decode() == primed


def test_w3c_c14n_expected_forms() -> None:
    """Section 3.3's and 3.4's canonical forms, the document element (inclusive and exclusive agree here
    but for e5-e9, which are checked against lxml above)."""
    out = core.exc_c14n(C14N_EXAMPLES["3.2 whitespace"], None, None)
    assert out == C14N_EXAMPLES["3.2 whitespace"]
    out = core.exc_c14n(C14N_EXAMPLES["3.4 character modifications"], None, None)
    assert b"<text>First line&#xD;\nSecond line</text>" in out
    assert b"<compute>value&gt;\"0\" &amp;&amp; value&lt;\"10\" ?\"valid\":\"error\"</compute>" in out
    assert b"<norm attr=\" '    &#xD;&#xA;&#x9;   ' \"></norm>" in out
    assert core.exc_c14n(b"<doc>&#169;</doc>", None, None) == "<doc>\u00a9</doc>".encode()


# --- (b) wssc's messages -----------------------------------------------------------------------------


def _wssc_messages() -> Iterator[tuple[str, bytes]]:
    from wssc.primitives.algorithms import SUITES
    from wssc.security.policy import ProtectionOrder, ProtectionPolicy

    policies: dict[str, ProtectionPolicy] = {}
    for suite_name in ("Basic256", "Basic128", "Basic256Sha256", "Basic128Sha256", "Basic192", "TripleDes"):
        if suite_name not in SUITES:
            continue
        suite = SUITES[suite_name]
        policies[f"{suite_name} sign-then-encrypt"] = ProtectionPolicy(suite=suite)
        policies[f"{suite_name} sign-only"] = ProtectionPolicy(suite=suite, encrypt=False)
        policies[f"{suite_name} encrypt-only"] = ProtectionPolicy(suite=suite, sign=False)
        policies[f"{suite_name} encrypt-then-sign"] = ProtectionPolicy(
            suite=suite, order=ProtectionOrder.ENCRYPT_BEFORE_SIGN
        )
        policies[f"{suite_name} signature in clear"] = ProtectionPolicy(suite=suite, encrypt_signature=False)
        policies[f"{suite_name} no derived keys"] = ProtectionPolicy(suite=suite, derived_keys=False)
        policies[f"{suite_name} gcm"] = ProtectionPolicy(suite=suite, use_gcm=True)
        policies[f"{suite_name} protect tokens, headers"] = ProtectionPolicy(
            suite=suite, protect_tokens=True, signed_headers=(h.CUSTOM_TAG,), encrypted_headers=(h.CUSTOM_TAG,)
        )
        policies[f"{suite_name} no timestamp"] = ProtectionPolicy(suite=suite, include_timestamp=False, encrypt=False)
    for version_name, version in h.VERSIONS_BY_NAME.items():
        for soap in ("1.1", "1.2"):
            env = h.envelope(soap, extra_headers=h.CUSTOM_HEADER)
            for style in ("local", "identifier", "external"):
                for policy_name, policy in policies.items():
                    # without derived keys the context key is the cipher key: its length is the suite's
                    ctx = h.new_context(version, os.urandom(policy.suite.encryption_key_length))
                    name = f"WS-SC {version_name} SOAP {soap} {style} {policy_name}"
                    try:
                        data = h.protect_msg(ctx, policy, style=style, soap=soap, env=env)
                    except ValueError:
                        continue  # a combination protect() refuses
                    yield name, data
                    try:
                        verified = ctx.receiver().unprotect(data)
                    except Exception:
                        continue
                    yield name + " (verified view)", etree.tostring(verified.envelope)


def _corpus_messages() -> Iterator[tuple[str, bytes]]:
    _targets, seeds = receive_corpus.build()
    for seed in seeds:
        yield f"corpus {seed.name}", seed.data
        if seed.plain is not None:
            yield f"corpus {seed.name} (plain)", seed.plain


def _vectors(root: Path) -> Iterator[tuple[str, bytes]]:
    for path in sorted(root.rglob("*.xml")):
        data = path.read_bytes()
        try:
            etree.fromstring(data, _parser())
        except (etree.XMLSyntaxError, ValueError):
            continue  # not well-formed (or not a document lxml reads): skipped, as the brief says
        yield str(path.relative_to(root)), data


def test_wssc_messages() -> None:
    _run("wssc messages", _wssc_messages())


def test_corpus_messages() -> None:
    _run("fuzz corpus seeds", _corpus_messages())


def test_vectors(vectors_dir: Path) -> None:
    """Every well-formed XML file under ../shared/vectors (the fixture skips when the folder is absent)."""
    _run("vectors", _vectors(vectors_dir))


# --- (c) generated documents -------------------------------------------------------------------------

_URIS = ["urn:a", "urn:b", "http://example.org/x", "http://example.org/y?q=1&amp;r=2", "urn:a", "urn:%41b"]
_PREFIXES = ["a", "b", "c", "wsu", "xx"]
_TEXT = ["x", " ", "&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#xD;", "&#13;", "\r\n", "\r", "\n", "\t", "é",
         "\U0001f600", "&#x10FFFF;", "]]", "<![CDATA[<&>\r\n]]>", "<!-- c -->", "<?pi data ?>", "<?pi?>", ">", '"']
_ATTR_TEXT = ["v", " ", "&amp;", "&lt;", "&quot;", "&apos;", "&#9;", "&#xA;", "&#xD;", "\t", "\n", "\r\n", "\r",
              ">", "'", "é"]


def _attr_value(rng: random.Random) -> str:
    value = "".join(rng.choice(_ATTR_TEXT) for _ in range(rng.randint(0, 4)))
    return value.replace('"', "&quot;")


def _element(rng: random.Random, depth: int, declared: set[str], counter: list[int]) -> str:
    decls: list[str] = []
    local_declared = set(declared)
    for _ in range(rng.choice([0, 0, 1, 2])):
        p = rng.choice([*_PREFIXES, ""])
        if p == "":
            uri = rng.choice([*_URIS, "", ""])
            if "xmlns" in [d.split("=")[0] for d in decls]:
                continue
            decls.append(f'xmlns="{uri}"')
        else:
            if f"xmlns:{p}" in [d.split("=")[0] for d in decls]:
                continue
            decls.append(f'xmlns:{p}="{rng.choice(_URIS)}"')
            local_declared.add(p)
    usable = sorted(local_declared)
    prefix = rng.choice(usable + [""] * 2) if usable else ""
    name = (prefix + ":" if prefix else "") + rng.choice(["e", "f", "Body", "g"])
    attrs: list[str] = []
    used: set[str] = set()
    for _ in range(rng.choice([0, 1, 2, 3])):
        ap = rng.choice([*usable, "", "", "xml"]) if usable else rng.choice(["", "xml"])
        local = rng.choice(["a", "b", "Id", "lang"])
        key = f"{ap}:{local}" if ap else local
        if key in used:
            continue
        used.add(key)
        attrs.append(f'{key}="{_attr_value(rng)}"')
    if rng.random() < 0.3:
        counter[0] += 1
        if "wsu" in local_declared and "wsu:Id" not in used and rng.random() < 0.5:
            attrs.append(f'wsu:Id="w{counter[0]}"')
        else:
            attrs.append(f'Id="id{counter[0]}"' if "Id" not in used else f'xml:id="x{counter[0]}"')
    sep = [" ", "\n  ", "\t"]
    head = "<" + name + "".join(rng.choice(sep) + a for a in decls + attrs) + rng.choice(["", " ", "\n"])
    if depth <= 0 or rng.random() < 0.25:
        return head + "/>" if rng.random() < 0.5 else head + "></" + name + ">"
    content = []
    for _ in range(rng.randint(0, 4)):
        if rng.random() < 0.5:
            content.append(_element(rng, depth - 1, local_declared, counter))
        else:
            content.append("".join(rng.choice(_TEXT) for _ in range(rng.randint(1, 3))))
    return head + ">" + "".join(content) + "</" + name + ">"


def generated(seed: int) -> bytes:
    rng = random.Random(seed)
    # a few wsu-qualified attributes: declare the prefix on the document element sometimes
    root = _element(rng, rng.randint(1, 6), set(), [0])
    if rng.random() < 0.05:  # now and then a broken document, which both must refuse
        cut = rng.randrange(len(root))
        root = root[:cut] + rng.choice(["<", "&", "&bogus;", "", "</x>", "\x01", "]]>"]) + root[cut + 1 :]
    if rng.random() < 0.3:
        root = root.replace("<", '<wsu:w xmlns:wsu="' + WSU + '" wsu:Id="top"><', 1) + "</wsu:w>"
    prolog = rng.choice(
        ["", '<?xml version="1.0"?>\n', '<?xml version="1.0" encoding="UTF-8"?>', "\ufeff", "<!-- c -->\n<?p?>"]
    )
    return (prolog + root + rng.choice(["", "\n", "<!-- end -->"])).encode("utf-8")


GENERATED_CASES = int(os.environ.get("WSSC_C14N_CASES", "3000"))


def test_generated_documents() -> None:
    def documents() -> Iterator[tuple[str, bytes]]:
        for seed in range(GENERATED_CASES):
            yield f"generated seed {seed}", generated(seed)

    _run("generated", documents(), lxml_must_parse=False)


# --- mutants: the core must refuse what lxml refuses, and agree on what both read ---------------------

_SNIPPETS = ["<", ">", "&", '"', "'", "=", " ", "/", ":", "\r", "\n", 'xmlns:q="urn:q" ', 'xmlns="" ', 'xmlns="urn:d" ',
             'q:x="1" ', "&#0;", "&#xD;", "&#x110000;", "&amp", "<!DOCTYPE a>", "<![CDATA[x", "]]>", "<!--", "-->",
             '<?xml version="1.0"?>', "<?x y?>", "\x00", "\x0c", "\ufeff", "é", "\ufffe", "a:", ":a", "xml:", "1"]


def mutate(data: bytes, rng: random.Random) -> bytes:
    text = data.decode("utf-8")
    for _ in range(rng.choice([1, 1, 2])):
        at = rng.randrange(len(text) + 1)
        kind = rng.random()
        if kind < 0.5:
            text = text[:at] + rng.choice(_SNIPPETS) + text[at:]
        elif kind < 0.75:
            text = text[:at] + rng.choice(_SNIPPETS) + text[at + 1 :]
        elif kind < 0.9:
            text = text[:at] + text[at + rng.randint(1, 8) :]
        else:
            end = min(len(text), at + rng.randint(1, 40))
            text = text[:end] + text[at:end] + text[end:]
    return text.encode("utf-8")


MUTANTS = int(os.environ.get("WSSC_C14N_MUTANTS", "3000"))


def test_mutants() -> None:
    """lxml refuses -> the core refuses; both read it -> byte-identical; the core alone refuses -> listed
    (its documented strictness: relative namespace URIs anywhere, the depth bound, ...)."""
    seeds = [h.protect_msg(h.new_context(), h.SIGN_ONLY), h.protect_msg(h.new_context()), h.envelope("1.1")]
    seeds += [generated(n) for n in range(50)]
    rng = random.Random(11)
    problems: list[str] = []
    stricter: dict[str, int] = {}
    examples: dict[str, bytes] = {}
    both_refused = compared = 0
    for n in range(MUTANTS):
        data = mutate(rng.choice(seeds), rng)
        try:
            etree.fromstring(data, _parser())
            lxml_reads = True
        except (etree.XMLSyntaxError, ValueError):
            lxml_reads = False
        try:
            core.exc_c14n(data, None, None)
            core_reads: str | None = None
        except (core.C14nRefused, LookupError) as exc:
            core_reads = str(exc)
        if not lxml_reads:
            if core_reads is None:
                problems.append(f"mutant {n}: lxml refuses, the core reads {data!r}")
            else:
                both_refused += 1
            continue
        if core_reads is not None:
            reason = core_reads.split(":")[0] if "well-formed" not in core_reads else core_reads
            stricter[reason] = stricter.get(reason, 0) + 1
            examples.setdefault(reason, data)
            continue
        count, found = compare_document(data, f"mutant {n}")
        compared += count
        problems.extend(found)
    print(f"\n[mutants] {MUTANTS} mutants: {both_refused} refused by both, {compared} canonicalizations compared, "
          f"{len(problems)} differences; refused by the core alone: {stricter}")
    for reason, example in examples.items():
        print(f"  refused by the core alone ({reason}), e.g. {example[:2000]!r}")
    TOTALS["mutants (read by both)"] = [MUTANTS - both_refused - sum(stricter.values()), -1, compared, len(problems)]
    assert not problems, "\n".join(problems[:10])


# --- refusals: what the core must not read (lxml reads some of these differently or not at all) -------

REFUSED = {
    "DTD": b'<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>',
    "external entity": b'<!DOCTYPE a SYSTEM "http://example.org/a.dtd"><a/>',
    "undefined entity": b"<a>&e;</a>",
    "entity in attribute": b'<a b="&e;"/>',
    "UTF-16 BOM": "<a/>".encode("utf-16"),
    "Latin-1 declared": b'<?xml version="1.0" encoding="ISO-8859-1"?><a>\xe9</a>',
    "invalid UTF-8": b"<a>\xff</a>",
    "control character": b"<a>\x01</a>",
    "char ref to NUL": b"<a>&#0;</a>",
    "undeclared prefix": b"<p:a/>",
    "undeclared attribute prefix": b'<a p:b="1"/>',
    "prefix undeclared": b'<a xmlns:p="urn:x"><b xmlns:p=""/></a>',
    "duplicate attribute": b'<a b="1" b="2"/>',
    "duplicate expanded name": b'<a xmlns:p="urn:x" xmlns:q="urn:x" p:b="1" q:b="2"/>',
    "two document elements": b"<a/><b/>",
    "text after the document element": b"<a/>x",
    "mismatched end tag": b"<a></b>",
    "unclosed": b"<a>",
    "relative namespace URI": b'<a xmlns="foo"/>',
    "xml prefix rebound": b'<a xmlns:xml="urn:x"/>',
    "xmlns prefix declared": b'<a xmlns:xmlns="urn:x"/>',
    "]]> in text": b"<a>]]></a>",
    "< in attribute": b'<a b="<"/>',
    "-- in comment": b"<a><!-- a -- b --></a>",
    "too deep": b"<a>" * 33 + b"</a>" * 33,
    "declaration not first": b' <?xml version="1.0"?><a/>',
    "PI named xml": b"<a><?xml x?></a>",
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused(name: str) -> None:
    with pytest.raises(core.C14nRefused):
        core.exc_c14n(REFUSED[name], None, None)


def test_duplicate_id_refused() -> None:
    doc = b'<a><b Id="x"/><c xmlns:wsu="' + WSU.encode() + b'" wsu:Id="x"/></a>'
    with pytest.raises(core.C14nRefused):
        core.exc_c14n(doc, "x", None)
    assert core.exc_c14n(b'<a><b Id="x" xml:id="x"/></a>', "x", None) == b'<b Id="x" xml:id="x"></b>'
    with pytest.raises(LookupError):
        core.exc_c14n(doc, "y", None)


def test_report() -> None:
    """Printed last (-s): the totals of every source compared in this run."""
    for name, (docs, elements, compared, diffs) in TOTALS.items():
        shown = "" if elements < 0 else f"{elements:8} elements"
        print(f"{name:>24}: {docs:6} documents {shown:>17} {compared:8} canonicalizations {diffs} differences")

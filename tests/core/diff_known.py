"""The Python path's own known bugs, as the differential harness meets them (:mod:`differential`).

A control case (protected, unchanged, received at once with the right keys and matching requirements) must be
accepted by the Python path; when it is not, and the envelope shows one of the patterns below, the refusal is
one of these bugs, reported and counted by the harness rather than failing it: both sides run the Python path
for those messages, so they are no disagreement.  Remove a pattern once its bug is fixed.
"""

from __future__ import annotations

from lxml import etree

from wssc.namespaces import WSU
from wssc.security.policy import ProtectionPolicy


def known_python_bug(envelope: bytes, policy: ProtectionPolicy | None) -> str | None:
    """Why a control case fails on the Python path, when that is one of the Python path's own known bugs
    (reported by the harness; they are no disagreement, both sides run the Python path for those messages):

    - ``text``: content encryption of a Body with text and no element: the decrypted text is dropped
      (``xmlenc.decrypt`` takes a fragment's leading text from its wrapper only when the fragment has an
      element), so a signed Body fails its digest and an unsigned one loses its text;
    - ``cr``: content encryption of a Body whose leading text holds a carriage return: ``content_bytes`` writes
      it raw, and the parser reads it back as a line feed (XML 1.0 section 2.11), so the digest fails;
    - ``aliased``: a namespace bound to two prefixes within encrypted content or its scope (the default namespace
      counts, and so does the declaration protect adds for the wsu:Id it writes: ``u`` on the root, or where
      ``u`` is taken or the utility namespace is the default, a prefix lxml makes up on the element): the
      decrypted elements moved into the tree can change prefix (lxml picks a declaration by URI), so their
      digest fails;
    - ``moved-root``: an envelope without the utility namespace on its root in which a prefix is rebound or a
      namespace has two prefixes, anywhere: protect moves the children under a new root that declares ``u``
      (``_with_wsu_declared``), and lxml, moving them, points their namespaces at the root's declarations by
      URI, so an element written with a rebound prefix changes namespace on the wire: what was signed is
      not what is sent (and, unsigned, the content silently changes).
    """
    if policy is None:
        return None
    try:
        root = etree.fromstring(envelope)
    except etree.XMLSyntaxError:
        return None
    reasons = set()
    parts = [e for e in root if isinstance(e.tag, str) and etree.QName(e).localname == "Body"]
    body = parts[-1] if parts else None
    if (
        policy.encrypt
        and body is not None
        and "".join(body.itertext())
        and not any(isinstance(c.tag, str) or isinstance(c, etree._ProcessingInstruction) for c in body)
    ):
        reasons.add("text")
    for header in root:
        if isinstance(header.tag, str) and etree.QName(header).localname == "Header":
            parts += [h for h in header if h.tag in policy.encrypted_headers]
    if policy.encrypt and body is not None and "\r" in (body.text or ""):
        reasons.add("cr")
    added = {} if WSU in root.nsmap.values() or "u" in root.nsmap else {"u": WSU}
    root_wsu = {p for p, uri in root.nsmap.items() if uri == WSU}
    for part in parts if policy.encrypt else ():
        # every binding met in the part, inherited ones included, and protect's own
        bindings = {(p, uri) for e in part.iter() if isinstance(e.tag, str) for p, uri in e.nsmap.items()}
        bindings |= set(added.items())
        uris = [uri for _, uri in bindings]
        # (the utility namespace under a prefix the root does not give it: protect declares it again for
        # the wsu:Id it adds, on the root as ``u`` or, where ``u`` is taken, on the element, as lxml does)
        own_wsu = {p for p, uri in bindings if uri == WSU} - root_wsu - set(added)
        if len(set(uris)) < len(uris) or (None, WSU) in bindings or own_wsu:
            reasons.add("aliased")
    if WSU not in root.nsmap.values() and "u" not in root.nsmap:
        # a prefix bound to two namespaces, or a namespace to two prefixes, anywhere (the root's new ``u`` too)
        everywhere = {(p, uri) for e in root.iter() if isinstance(e.tag, str) for p, uri in e.nsmap.items()}
        everywhere.add(("u", WSU))
        if len({p for p, _ in everywhere}) < len(everywhere) or len({uri for _, uri in everywhere}) < len(everywhere):
            reasons.add("moved-root")
    return ",".join(sorted(reasons)) or None

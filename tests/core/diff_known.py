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

    - ``aliased``: a namespace bound to two prefixes within encrypted content or its scope (the default namespace
      counts, and so does the declaration protect adds for the wsu:Id it writes: ``u`` on the root, or where
      ``u`` is taken or the utility namespace is the default, a prefix lxml makes up on the element): the
      decrypted elements moved into the tree can change prefix (lxml picks a declaration by URI), so their
      digest fails; and a prefix the utility namespace has above an encrypted part, bound to another
      namespace inside it, which has the same effect on the part's own wsu:Id;
    """
    if policy is None:
        return None
    try:
        root = etree.fromstring(envelope)
    except etree.XMLSyntaxError:
        return None
    reasons = set()
    parts = [e for e in root if isinstance(e.tag, str) and etree.QName(e).localname == "Body"]
    for header in root:
        if isinstance(header.tag, str) and etree.QName(header).localname == "Header":
            parts += [h for h in header if h.tag in policy.encrypted_headers]
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
        # (a prefix the utility namespace has above the part, bound again inside it: the wsu:Id written on
        # the part needs another prefix there, which the decrypted element's move re-points)
        parent = part.getparent()
        above = {p for p, uri in (parent.nsmap if parent is not None else {}).items() if uri == WSU} | set(added)
        inside = {(p, uri) for e in part.iter() if isinstance(e.tag, str) for p, uri in e.nsmap.items()}
        rebound = {p for p, uri in inside if p in above and uri != WSU}
        if len(set(uris)) < len(uris) or (None, WSU) in bindings or own_wsu or rebound:
            reasons.add("aliased")
    return ",".join(sorted(reasons)) or None

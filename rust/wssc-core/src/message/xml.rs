//! Reading the tree as the Python path reads lxml's: element children (PIs are no elements), an element's
//! text, one child of a name, and the byte-level refusals of `wssc.primitives.xml`.  Also the two writers the
//! message layer uses: exclusive c14n of a node and the plain serialisation of a node.

use std::borrow::Cow;

use super::{Declined, Result};
use crate::dom::{Document, NodeId, NodeKind};

/// `wssc.primitives.xml.parse` refuses a message holding these bytes anywhere (DTDs, entity declarations),
/// even inside a comment or CDATA section: the core must not accept what it refuses.
pub(crate) fn refuse_markup_declarations(data: &[u8]) -> Result<()> {
    // one pass for "<!" (rare in a SOAP message: comments, CDATA sections), each hit looked at
    for at in memchr::memmem::find_iter(data, b"<!") {
        let rest = data.get(at + 2..).unwrap_or_default();
        if rest.starts_with(b"DOCTYPE") || rest.starts_with(b"ENTITY") {
            return Err(Declined("a DTD or an entity declaration"));
        }
    }
    Ok(())
}

/// `wssc.primitives.xml.parse_fragment`'s byte-level refusals of decrypted data: a DTD, an entity
/// declaration, an XML declaration in its first 64 bytes.
pub(crate) fn refuse_fragment_declarations(data: &[u8]) -> Result<()> {
    refuse_markup_declarations(data)?;
    let head = data.get(..64).unwrap_or(data);
    if memchr::memmem::find(head, b"<?xml").is_some() {
        return Err(Declined("decrypted data is not an XML fragment"));
    }
    Ok(())
}

/// Python's `str.isspace`, what `str.strip()` and `str.split()` remove.
pub(crate) fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `text.strip()`.
pub(crate) fn py_strip(text: &str) -> &str {
    text.trim_matches(is_python_space)
}

/// The element children of `id` in order (lxml's children less processing instructions: what
/// `[c for c in el if isinstance(c.tag, str)]` lists; comments are not in either tree).
pub(crate) fn elements(doc: &Document, id: NodeId) -> Vec<NodeId> {
    doc.child_elements(id).collect()
}

/// lxml's `len(el)`: element and processing-instruction children.
pub(crate) fn lxml_len(doc: &Document, id: NodeId) -> usize {
    doc.children(id)
        .iter()
        .filter(|c| {
            !matches!(
                doc.nodes().get(**c).map(|n| &n.kind),
                Some(NodeKind::Text(_)) | None
            )
        })
        .count()
}

/// Whether every text child of `id` is white space (Python's `(text or "").strip()` empty).
pub(crate) fn only_space_text(doc: &Document, id: NodeId) -> bool {
    doc.children(id)
        .iter()
        .all(|c| match doc.nodes().get(*c).map(|n| &n.kind) {
            Some(NodeKind::Text(t)) => t.chars().all(is_python_space),
            _ => true,
        })
}

/// lxml's `el.text` for an element holding text only: None when empty.  An element with element or PI
/// children is declined (lxml would read only the text before the first of them).  Borrowed from the tree
/// when the element holds one text node (the common case).
pub(crate) fn text(doc: &Document, id: NodeId) -> Result<Option<Cow<'_, str>>> {
    let children = doc.children(id);
    if let [only] = children {
        return match doc.nodes().get(*only).map(|n| &n.kind) {
            Some(NodeKind::Text(t)) if !t.is_empty() => Ok(Some(Cow::Borrowed(t.as_str()))),
            Some(NodeKind::Text(_)) => Ok(None),
            _ => Err(Declined("an element where text is expected")),
        };
    }
    if lxml_len(doc, id) != 0 {
        return Err(Declined("an element where text is expected"));
    }
    let t = doc.text(id);
    Ok(if t.is_empty() {
        None
    } else {
        Some(Cow::Owned(t))
    })
}

/// The base64 content of an element (`wssc.primitives.xml.b64decode(el.text)`).
pub(crate) fn b64_text(doc: &Document, id: NodeId) -> Result<Vec<u8>> {
    let t = text(doc, id)?.ok_or(Declined("empty base64 value"))?;
    crate::crypto::b64decode(&t).ok_or(Declined("bad base64"))
}

/// `wssc.primitives.xml.only_child`: the one child element of this name, None if absent, two declined.
pub(crate) fn only_child(
    doc: &Document,
    parent: NodeId,
    ns: &str,
    local: &str,
) -> Result<Option<NodeId>> {
    let mut found = None;
    for c in doc.child_elements(parent) {
        if doc.is(c, ns, local) {
            if found.is_some() {
                return Err(Declined("an element twice where one is allowed"));
            }
            found = Some(c);
        }
    }
    Ok(found)
}

/// `wssc.primitives.xml.required_child`.
pub(crate) fn required_child(
    doc: &Document,
    parent: NodeId,
    ns: &str,
    local: &str,
) -> Result<NodeId> {
    only_child(doc, parent, ns, local)?.ok_or(Declined("a required element is missing"))
}

/// Whether `id` is an element of one of the WS-SC versions' namespaces with this local name; which one.
pub(crate) fn sc_version_of(doc: &Document, id: NodeId, local: &str) -> Option<&'static str> {
    super::SC_VERSIONS
        .into_iter()
        .find(|v| doc.is(id, v, local))
}

/// `{namespace}local`, the Clark name lxml uses as a tag.
pub(crate) fn clark(doc: &Document, id: NodeId) -> String {
    match doc.element(id) {
        Some(e) if e.name.ns.is_empty() => e.name.local.to_string(),
        Some(e) => format!("{{{}}}{}", e.name.ns, e.name.local),
        None => String::new(),
    }
}

/// The element's namespace URI ("" for none).
pub(crate) fn namespace(doc: &Document, id: NodeId) -> &str {
    doc.element(id).map_or("", |e| e.name.ns.as_str())
}

/// The prefixes of an `ec:InclusiveNamespaces` child of `method` (`dsig._c14n_prefixes`): the PrefixList
/// split on white space, None without the element.  `#default` stays as written (c14n reads it).
pub(crate) fn inclusive_prefixes(doc: &Document, method: NodeId) -> Option<Vec<String>> {
    let inclusive = doc
        .child_elements(method)
        .find(|c| doc.is(*c, super::EXC_C14N, "InclusiveNamespaces"))?;
    let list = doc.attribute(inclusive, "", "PrefixList").unwrap_or("");
    Some(
        list.split(is_python_space)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect(),
    )
}

/// Exclusive c14n (without comments) of the subtree at `node`, appended to `out`; `prefixes` as
/// `wssc.primitives.xml.c14n` takes them (None: no InclusiveNamespaces; `#default` for the default
/// namespace, which lxml receives as "").
pub(crate) fn c14n_into(
    doc: &Document,
    node: NodeId,
    prefixes: Option<&[String]>,
    out: &mut Vec<u8>,
) -> Result<()> {
    let list: Vec<&str> = prefixes.unwrap_or(&[]).iter().map(String::as_str).collect();
    crate::c14n::exc_c14n_node(doc, node, &list, out);
    Ok(())
}

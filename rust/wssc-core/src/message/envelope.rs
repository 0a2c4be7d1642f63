//! The outgoing envelope: located and checked (SOAP 1.1 section 4, SOAP 1.2 part 1 section 5), given its
//! wsu:Ids, and written back with the Security header and the EncryptedData in place.
//!
//! The Python path (`protect.py`) builds its output with lxml, and two lxml behaviours shape it:
//!
//! - `_with_wsu_declared` declares `u` for the utility namespace on the Envelope by writing it into the
//!   serialised Envelope's start tag and parsing the result again: every name keeps the binding it had, as
//!   here, where the declaration is added to the tree ([`Envelope::analyse`]).
//! - `etree.tostring(child)` of a Body child (the plaintext of Body content encryption) or of an encrypted
//!   header declares on the child every namespace in scope there (`_copyParentNamespaces`);
//!   [`write_detached`] writes the same declarations, so the plaintext reads the same in any context.

use crate::dom::{Attribute, Document, ElementData, Name, NodeId};
use crate::WSU_NS;

pub(crate) use super::{SOAP11, SOAP12};
/// The prefix WCF uses for wsu, declared on the Envelope (Mono's WCF re-serialises the addressing headers
/// it verifies with `u:Id` and an Envelope-level `xmlns:u`; any other prefix breaks their digests there).
const WSU_PREFIX: &str = "u";

/// Why an envelope is left to the Python path.
pub(crate) type Decline = &'static str;

pub(crate) struct Envelope {
    pub soap: &'static str,
    pub root: NodeId,
    /// None: the Header is created in front of the Body (`split(create_header=True)`).
    pub header: Option<NodeId>,
    pub body: NodeId,
    /// the input's length, to size the buffers written from it
    pub size: usize,
}

pub(super) fn element(doc: &Document, id: NodeId) -> Result<&ElementData, Decline> {
    doc.element(id).ok_or("not an element")
}

impl Envelope {
    /// Locate Header and Body as `soap.split` does, declare `u` on the Envelope as `_with_wsu_declared`
    /// does, and decline what the writer cannot reproduce.
    pub(crate) fn analyse(doc: &mut Document) -> Result<Envelope, Decline> {
        let root = doc.root();
        let e = element(doc, root)?;
        let soap = match e.name.ns.as_str() {
            SOAP11 if e.name.local == "Envelope" => SOAP11,
            SOAP12 if e.name.local == "Envelope" => SOAP12,
            _ => return Err("not a SOAP 1.1 or 1.2 Envelope"),
        };
        let kids: Vec<NodeId> = doc.child_elements(root).collect();
        let mut position = 0;
        let header = match kids.first() {
            Some(h) if doc.is(*h, soap, "Header") => {
                position = 1;
                Some(*h)
            }
            _ => None,
        };
        let body = *kids.get(position).ok_or("no Body")?;
        if !doc.is(body, soap, "Body") {
            return Err("no Body in its place");
        }
        for extra in kids.get(position + 1..).unwrap_or(&[]) {
            if soap == SOAP12 || doc.is(*extra, soap, "Header") || doc.is(*extra, soap, "Body") {
                return Err("an element after the Body");
            }
        }
        // Design point 3 (docs/core.md): no default namespace at Envelope or Header, not even xmlns="".
        for part in [Some(root), header].into_iter().flatten() {
            if element(doc, part)?
                .namespace_declarations
                .iter()
                .any(|(p, _)| p.is_empty())
            {
                return Err("a default namespace declared at the Envelope or Header");
            }
        }
        if e.name.prefix.is_empty() {
            return Err("an unprefixed Envelope");
        }
        let decls = &e.namespace_declarations;
        for (i, (_, uri)) in decls.iter().enumerate() {
            if decls.iter().skip(i + 1).any(|(_, other)| other == uri) {
                return Err("one namespace declared twice on the Envelope");
            }
        }
        let has_wsu = decls.iter().any(|(_, uri)| uri == WSU_NS);
        let has_u = decls.iter().any(|(p, _)| p == WSU_PREFIX);
        if has_u && !has_wsu {
            return Err("the prefix u bound to another namespace on the Envelope");
        }
        let declare_u = !has_wsu && !has_u;
        let envelope = Envelope {
            soap,
            root,
            header,
            body,
            size: 0,
        };
        if declare_u {
            doc.declare_namespace(root, WSU_PREFIX, WSU_NS);
        }
        Ok(envelope)
    }

    /// The namespace declarations of `id`.
    pub(super) fn declarations<'d>(
        &self,
        doc: &'d Document,
        id: NodeId,
    ) -> Vec<(&'d str, &'d str)> {
        doc.element(id)
            .map(|e| {
                e.namespace_declarations
                    .iter()
                    .map(|(p, u)| (p.as_str(), u.as_str()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether no element from `from` up to `ancestor` (excluded) declares `prefix` (libxml2 `xmlNsInScope`).
    fn prefix_in_scope(
        &self,
        doc: &Document,
        from: NodeId,
        ancestor: NodeId,
        prefix: &str,
    ) -> bool {
        let mut node = Some(from);
        while let Some(n) = node {
            if n == ancestor {
                return true;
            }
            if self.declarations(doc, n).iter().any(|(p, _)| *p == prefix) {
                return false;
            }
            node = doc.parent(n);
        }
        false
    }

    /// The prefix libxml2's `xmlSearchNsByHref` finds for `uri` from `from` upwards, as lxml's `set` of a
    /// namespaced attribute uses it; `attribute`: skip the default namespace, as lxml's `_searchNsByHref`
    /// does for an attribute.
    fn prefix_by_uri<'d>(
        &self,
        doc: &'d Document,
        from: NodeId,
        uri: &str,
        attribute: bool,
    ) -> Option<&'d str> {
        let mut node = Some(from);
        while let Some(n) = node {
            for (p, u) in self.declarations(doc, n) {
                if u == uri && !(attribute && p.is_empty()) && self.prefix_in_scope(doc, from, n, p)
                {
                    return Some(p);
                }
            }
            if n != from {
                if let Some(e) = doc.element(n) {
                    let p = e.name.prefix.as_str();
                    if e.name.ns == uri
                        && !(attribute && p.is_empty())
                        && self.prefix_in_scope(doc, from, n, p)
                    {
                        return Some(p);
                    }
                }
            }
            node = doc.parent(n);
        }
        None
    }

    /// The element's wsu:Id or unqualified Id (`primitives.xml.local_id`), else a new `wsu:Id` with the
    /// prefix lxml would use (`_ensure_id`).
    pub(crate) fn ensure_id(
        &self,
        doc: &mut Document,
        id: NodeId,
        new: impl FnOnce() -> String,
    ) -> Result<String, Decline> {
        let existing = doc
            .attribute(id, WSU_NS, "Id")
            .filter(|v| !v.is_empty())
            .or_else(|| doc.attribute(id, "", "Id").filter(|v| !v.is_empty()));
        if let Some(existing) = existing {
            return Ok(existing.to_string());
        }
        let prefix = self
            .prefix_by_uri(doc, id, WSU_NS, true)
            .ok_or("no prefix in scope for the utility namespace")?
            .to_string();
        let value = new();
        let name = Name {
            prefix: prefix.into(),
            local: "Id".into(),
            ns: WSU_NS.into(),
        };
        doc.set_attribute(
            id,
            Attribute {
                name,
                value: value.clone(),
            },
        );
        Ok(value)
    }
}

//! Exclusive canonicalization of an element subtree of a [`Document`], and the core's serializer of the
//! parts of its output that are not signed.
//!
//! The whole document is parsed (and must be well-formed) before any subtree is canonicalized: the verifier
//! must not canonicalize a document lxml would refuse, and [`Selector::Id`] must see every element to refuse
//! an identifier carried twice.
//!
//! The namespace axis follows libxml2's `xmlExcC14NProcessNamespacesAxis` (which lxml calls) with every
//! node of the subtree visible, which is the exclusive c14n specification's rule (Exc-C14N section 3): a
//! namespace declaration is written on an element of the output when the element or one of its attributes
//! visibly uses its prefix (or the prefix is on the InclusiveNamespaces PrefixList) and the nearest output
//! ancestor that wrote the prefix wrote another URI for it.

use crate::dom::{Attribute, Document, ElementData, NodeId, NodeKind};
use crate::xmltext::{write_attribute_value, write_quoted_uri};
use crate::{Limits, Selector, XmlError, WSU_NS, XML_NS};

pub mod inclusive;
mod serialize;
mod walk;

pub use serialize::{write_node, write_nodes};
pub(crate) use walk::{walk, StartTags};

type Result<T> = std::result::Result<T, XmlError>;

/// Canonicalize the element `target` selects in `document` (exclusive c14n 1.0, comments omitted).
///
/// `inclusive_prefixes` is the InclusiveNamespaces PrefixList: `"#default"` (or `""`) names the default
/// namespace.  The document is parsed by [`Document::parse`] within [`Limits::default`].
pub fn exc_c14n(
    document: &[u8],
    target: Selector<'_>,
    inclusive_prefixes: &[&str],
) -> Result<Vec<u8>> {
    exc_c14n_with_limits(document, target, inclusive_prefixes, &Limits::default())
}

/// [`exc_c14n`] with explicit bounds.
pub fn exc_c14n_with_limits(
    document: &[u8],
    target: Selector<'_>,
    inclusive_prefixes: &[&str],
    limits: &Limits,
) -> Result<Vec<u8>> {
    let mut outputs = exc_c14n_many(
        document,
        &[Target {
            selector: target,
            inclusive_prefixes,
        }],
        limits,
    )?;
    Ok(outputs.pop().unwrap_or_default())
}

/// One element to canonicalize, and its InclusiveNamespaces PrefixList.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub selector: Selector<'a>,
    pub inclusive_prefixes: &'a [&'a str],
}

/// Canonicalize several elements of one document parsed once (a verifier's SignedInfo and every Reference
/// of it): the canonical forms in the order of `targets`.  The subtrees may nest or repeat.  Every target
/// must be found ([`XmlError::NotFound`] otherwise).
pub fn exc_c14n_many(
    document: &[u8],
    targets: &[Target<'_>],
    limits: &Limits,
) -> Result<Vec<Vec<u8>>> {
    let doc = Document::parse(document, limits)?;
    let mut found = Vec::with_capacity(targets.len());
    let mut missing = false;
    for t in targets {
        match select(&doc, t.selector)? {
            Some(id) => found.push(id),
            None => missing = true,
        }
    }
    if missing {
        return Err(XmlError::NotFound);
    }
    Ok(targets
        .iter()
        .zip(found)
        .map(|(t, id)| {
            let mut out = Vec::new();
            exc_c14n_node(&doc, id, t.inclusive_prefixes, &mut out);
            out
        })
        .collect())
}

/// The element `selector` names; [`XmlError::DuplicateId`] when two elements carry the identifier.
fn select(doc: &Document, selector: Selector<'_>) -> Result<Option<NodeId>> {
    match selector {
        Selector::DocumentElement => Ok(Some(doc.root())),
        Selector::Path(path) => {
            let mut current = doc.root();
            for index in path {
                match doc.child_elements(current).nth(*index) {
                    Some(child) => current = child,
                    None => return Ok(None),
                }
            }
            Ok(Some(current))
        }
        Selector::Id(id) => {
            let mut found = None;
            for (n, node) in doc.nodes().iter().enumerate() {
                if let NodeKind::Element(e) = &node.kind {
                    if carries_id(e, id) {
                        if found.is_some() {
                            return Err(XmlError::DuplicateId);
                        }
                        found = Some(n);
                    }
                }
            }
            Ok(found)
        }
    }
}

/// The element carries `id` in wsu:Id, an unqualified Id (XML-Enc, XML-DSig) or xml:id.
fn carries_id(e: &ElementData, id: &str) -> bool {
    e.attributes.iter().any(|a| {
        a.value == id
            && match a.name.local.as_str() {
                "Id" => a.name.ns.is_empty() || a.name.ns == WSU_NS,
                "id" => a.name.ns == XML_NS,
                _ => false,
            }
    })
}

/// Append the exclusive canonical form (Exc-C14N 1.0, comments omitted) of the subtree at `node` to `out`.
/// `inclusive_prefixes` is the InclusiveNamespaces PrefixList, `"#default"` (or `""`) for the default
/// namespace.
pub fn exc_c14n_node(doc: &Document, node: NodeId, inclusive_prefixes: &[&str], out: &mut Vec<u8>) {
    let mut canon = Exclusive {
        // `#default` (or "") names the default namespace, treated as inclusive (the specification,
        // libxml2's own code, WSS4J and .NET).  lxml does the same only once its thread's parser dictionary
        // holds "" (after any document with xmlns=""); before, it drops the entry.  See rust/README.md:
        // wssc's Python path inherits that dependence on history.
        inclusive: inclusive_prefixes
            .iter()
            .map(|p| if *p == "#default" { "" } else { *p })
            .collect(),
        scope: ancestor_declarations(doc, node),
        rendered: Vec::new(),
        list: Vec::new(),
        attrs: Vec::new(),
    };
    walk(doc, &[node], &mut canon, out);
}

struct Exclusive<'d, 'p> {
    /// the PrefixList, "" for the default namespace
    inclusive: Vec<&'p str>,
    /// libxml2's `ns_rendered` stack: the namespace nodes of the output elements open, innermost last
    rendered: Vec<(&'d str, &'d str)>,
    /// the namespace declarations in scope, innermost last (those of the ancestors of the apex first)
    scope: Vec<(&'d str, &'d str)>,
    /// scratch: the namespace declarations of the element being written
    list: Vec<(&'d str, &'d str)>,
    /// scratch: its attributes, sorted
    attrs: Vec<&'d Attribute>,
}

impl<'d> StartTags<'d> for Exclusive<'d, '_> {
    fn open(&mut self, e: &'d ElementData, out: &mut Vec<u8>) -> (usize, usize) {
        let marks = (self.rendered.len(), self.scope.len());
        self.scope.extend(
            e.namespace_declarations
                .iter()
                .map(|(p, u)| (p.as_str(), u.as_str())),
        );
        self.start(e, out);
        marks
    }

    fn close(&mut self, (rendered, scope): (usize, usize)) {
        self.rendered.truncate(rendered);
        self.scope.truncate(scope);
    }
}

impl<'d> Exclusive<'d, '_> {
    /// libxml2's `xmlExcC14NVisibleNsStackFind`, every node visible: was (prefix, uri) written by the nearest
    /// output ancestor (or this element) that wrote the prefix?  An empty default namespace counts as
    /// written at the top.
    fn already_rendered(&self, prefix: &str, uri: &str) -> bool {
        match self.rendered.iter().rev().find(|(p, _)| *p == prefix) {
            Some((_, u)) => *u == uri,
            None => prefix.is_empty() && uri.is_empty(),
        }
    }

    /// The nearest declaration of `prefix` in scope, as (prefix, URI).
    fn lookup(&self, prefix: &str) -> Option<(&'d str, &'d str)> {
        self.scope.iter().rev().find(|(p, _)| *p == prefix).copied()
    }

    fn start(&mut self, e: &'d ElementData, out: &mut Vec<u8>) {
        let mut list = std::mem::take(&mut self.list);
        list.clear();
        let mut has_empty_ns = false;
        let mut has_empty_ns_in_inclusive_list = false;
        let mut has_visibly_utilized_empty_ns = false;

        // InclusiveNamespaces PrefixList: these prefixes are handled as in Canonical XML (inclusive)
        for i in 0..self.inclusive.len() {
            let p = self.inclusive.get(i).copied().unwrap_or("xml");
            if p.is_empty() {
                has_empty_ns_in_inclusive_list = true;
            }
            if p == "xml" {
                continue;
            }
            if let Some((p, uri)) = self.lookup(p) {
                if !self.already_rendered(p, uri) {
                    list.push((p, uri));
                }
                self.rendered.push((p, uri));
                if p.is_empty() {
                    has_empty_ns = true;
                }
            }
        }

        // the element's own namespace
        let name = &e.name;
        let own: Option<(&'d str, &'d str)> = if !name.prefix.is_empty() {
            (name.prefix != "xml").then_some((name.prefix.as_str(), name.ns.as_str()))
        } else if !name.ns.is_empty() {
            Some(("", name.ns.as_str()))
        } else {
            has_visibly_utilized_empty_ns = true;
            // an unqualified element in no namespace: the nearest default declaration, xmlns="" if any
            self.lookup("")
        };
        if let Some((p, uri)) = own {
            if !self.already_rendered(p, uri) {
                list.push((p, uri));
            }
            if p.is_empty() {
                has_empty_ns = true;
            }
            self.rendered.push((p, uri));
        }

        // the prefixes of the attributes
        for a in &e.attributes {
            if a.name.prefix.is_empty() || a.name.prefix == "xml" {
                continue;
            }
            let (p, uri) = (a.name.prefix.as_str(), a.name.ns.as_str());
            if !self.already_rendered(p, uri) {
                list.push((p, uri));
            }
            self.rendered.push((p, uri));
        }

        // xmlns="": the default namespace is empty here but an output ancestor wrote another one
        // (libxml2's two branches: the element is in no namespace and #default is not on the PrefixList, or
        // #default is on the PrefixList; either way only when no default namespace node was written above)
        let undeclare_default = !has_empty_ns
            && (has_visibly_utilized_empty_ns || has_empty_ns_in_inclusive_list)
            && !self.already_rendered("", "");
        out.push(b'<');
        write_qname(out, &name.prefix, &name.local);
        if undeclare_default {
            out.extend_from_slice(b" xmlns=\"\"");
        }
        list.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        list.dedup_by(|a, b| a.0 == b.0);
        for (p, uri) in &list {
            write_declaration_name(out, p);
            write_quoted_uri(out, uri);
        }
        self.list = list;
        // attributes: by namespace URI (none first), then local name
        let mut attrs = std::mem::take(&mut self.attrs);
        attrs.clear();
        attrs.extend(e.attributes.iter());
        attrs.sort_by(|a, b| {
            (a.name.ns.as_bytes(), a.name.local.as_bytes())
                .cmp(&(b.name.ns.as_bytes(), b.name.local.as_bytes()))
        });
        for a in &attrs {
            write_attribute(out, a);
        }
        self.attrs = attrs;
        out.push(b'>');
    }
}

/// The namespace declarations on the ancestors of `id` (not its own), outermost first.
pub(crate) fn ancestor_declarations(doc: &Document, id: NodeId) -> Vec<(&str, &str)> {
    let mut chain = Vec::new();
    let mut current = doc.parent(id);
    while let Some(node) = current.and_then(|n| doc.nodes().get(n)) {
        if let NodeKind::Element(e) = &node.kind {
            chain.push(&e.namespace_declarations);
        }
        current = node.parent;
    }
    chain
        .into_iter()
        .rev()
        .flatten()
        .map(|(p, u)| (p.as_str(), u.as_str()))
        .collect()
}

pub(crate) fn write_qname(out: &mut Vec<u8>, prefix: &str, local: &str) {
    if !prefix.is_empty() {
        out.extend_from_slice(prefix.as_bytes());
        out.push(b':');
    }
    out.extend_from_slice(local.as_bytes());
}

/// A namespace declaration as the core's writers (not its exclusive c14n) write it: the URI escaped as an
/// attribute value, which libxml2's c14n does not do (an accepted URI holds no character to escape,
/// `xmltext::is_absolute_uri`, so the bytes are the same; escaped all the same, so the output stays well-formed).
pub(crate) fn write_declaration(out: &mut Vec<u8>, prefix: &str, uri: &str) {
    write_declaration_name(out, prefix);
    out.push(b'"');
    write_attribute_value(out, uri);
    out.push(b'"');
}

/// ` xmlns=` or ` xmlns:p=`.
fn write_declaration_name(out: &mut Vec<u8>, prefix: &str) {
    if prefix.is_empty() {
        out.extend_from_slice(b" xmlns=");
    } else {
        out.extend_from_slice(b" xmlns:");
        out.extend_from_slice(prefix.as_bytes());
        out.push(b'=');
    }
}

pub(crate) fn write_attribute(out: &mut Vec<u8>, a: &Attribute) {
    out.push(b' ');
    write_qname(out, &a.name.prefix, &a.name.local);
    out.extend_from_slice(b"=\"");
    write_attribute_value(out, &a.value);
    out.push(b'"');
}

pub(crate) fn write_end(e: &ElementData, out: &mut Vec<u8>) {
    out.extend_from_slice(b"</");
    write_qname(out, &e.name.prefix, &e.name.local);
    out.push(b'>');
}

/// A processing instruction as Canonical XML writes it: `<?target data?>`, `<?target?>` without data.
pub(crate) fn write_pi(out: &mut Vec<u8>, target: &str, data: &str) {
    out.extend_from_slice(b"<?");
    out.extend_from_slice(target.as_bytes());
    if !data.is_empty() {
        out.push(b' ');
        out.extend_from_slice(data.as_bytes());
    }
    out.extend_from_slice(b"?>");
}

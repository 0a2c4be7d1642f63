//! Canonical XML 1.0 (inclusive, comments omitted: the core's tree holds none) of a whole document written
//! element by element: the writer of the core's output (docs/core.md, "one source of truth").
//!
//! The output is written in its own canonical form so that the glue can check lxml's whole reading of it
//! with one comparison: lxml's Canonical XML of its parse must be the very bytes the core wrote.  In a whole
//! document (no node left out) Canonical XML writes, on each element, the namespace declarations whose
//! binding differs from the parent's in-scope one (C14N 1.0 section 2.3, namespace axis; `xmlns=""` only
//! where the parent had a default namespace), sorted by prefix, then the attributes sorted by namespace URI
//! and local name (section 4.8 of the specification's examples: no-namespace attributes first).  Equal
//! canonical forms of two whole trees give every element the same name, in-scope namespaces, attributes
//! and text, hence the same exclusive canonical form of every subtree: what the signature verified.

use super::{walk, write_attribute, write_declaration, write_qname, StartTags};
use crate::dom::{Document, ElementData, NodeId};

/// The namespace bindings in scope while a document is written, innermost last.
#[derive(Debug, Default)]
pub struct Scope<'d> {
    bindings: Vec<(&'d str, &'d str)>,
    /// scratch: the declarations of the element being written
    list: Vec<(&'d str, &'d str)>,
}

impl<'d> Scope<'d> {
    /// The binding of `prefix` in scope ("" for an unbound default namespace; None for another prefix).
    fn binding(&self, prefix: &str) -> Option<&'d str> {
        match self.bindings.iter().rev().find(|(p, _)| *p == prefix) {
            Some((_, uri)) => Some(uri),
            None => prefix.is_empty().then_some(""),
        }
    }

    /// The start tag of `e` as Canonical XML writes it, its declarations entering the scope (the caller
    /// leaves them with [`Scope::leave`] and the mark this returns).
    pub fn start(&mut self, e: &'d ElementData, out: &mut Vec<u8>) -> usize {
        let own = e
            .namespace_declarations
            .iter()
            .map(|(p, u)| (p.as_str(), u.as_str()));
        self.start_declaring(e, own, out)
    }

    /// The start tag of `e` with `declarations` (each prefix once) as its namespace declarations: those
    /// whose binding differs from the scope's are written, and all enter the scope.
    fn start_declaring(
        &mut self,
        e: &'d ElementData,
        declarations: impl Iterator<Item = (&'d str, &'d str)> + Clone,
        out: &mut Vec<u8>,
    ) -> usize {
        let mark = self.bindings.len();
        let mut list = std::mem::take(&mut self.list);
        list.clear();
        for (p, uri) in declarations.clone() {
            // the xml prefix is bound without a declaration, and Canonical XML writes none for it
            if p != "xml" && self.binding(p) != Some(uri) {
                list.push((p, uri));
            }
        }
        list.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        out.push(b'<');
        write_qname(out, &e.name.prefix, &e.name.local);
        for (p, uri) in &list {
            write_declaration(out, p, uri);
        }
        self.list = list;
        self.bindings.extend(declarations);
        let mut attrs: Vec<_> = e.attributes.iter().collect();
        if attrs.len() > 1 {
            attrs.sort_by(|a, b| {
                (a.name.ns.as_bytes(), a.name.local.as_bytes())
                    .cmp(&(b.name.ns.as_bytes(), b.name.local.as_bytes()))
            });
        }
        for a in attrs {
            write_attribute(out, a);
        }
        out.push(b'>');
        mark
    }

    /// Leave an element [`Scope::start`] entered.
    pub fn leave(&mut self, mark: usize) {
        self.bindings.truncate(mark);
    }

    /// The subtree at `node` (whose ancestors' start tags this scope wrote), in document order.
    pub fn subtree(&mut self, doc: &'d Document, node: NodeId, out: &mut Vec<u8>) {
        walk(doc, &[node], self, out);
    }
}

/// The Canonical XML 1.0 of the element `node` on its own: the element made the root of a document of its
/// own, every namespace in scope declared on it (the default namespace only where bound to a URI, `xml`
/// never), its descendants written as in the document, attributes in the xml namespace not inherited.  lxml
/// writes a subelement so (`etree.tostring(element)`), and this is the canonical form of those bytes.  (lxml
/// canonicalising the element in place differs: libxml2 then reads its descendants' scope in the whole tree
/// and may write an `xmlns=""` that takes one out of the default namespace the element declares.)
/// What an application re-sends (`VerifiedMessage.payload_xml`) needs each declaration in scope: a QName in
/// content uses its prefix where no canonicalisation sees it.  Nothing for a node that is not an element.
pub fn standalone(doc: &Document, node: NodeId, out: &mut Vec<u8>) {
    let Some(e) = doc.element(node) else {
        return;
    };
    // its own declarations, then those of its ancestors, innermost first, each prefix once
    let mut declarations: Vec<(&str, &str)> = e
        .namespace_declarations
        .iter()
        .map(|(p, u)| (p.as_str(), u.as_str()))
        .collect();
    for (p, u) in super::ancestor_declarations(doc, node).into_iter().rev() {
        if !declarations.iter().any(|(q, _)| *q == p) {
            declarations.push((p, u));
        }
    }
    let mut scope = Scope::default();
    let mark = scope.start_declaring(e, declarations.into_iter(), out);
    walk(doc, &e.children, &mut scope, out);
    super::write_end(e, out);
    scope.leave(mark);
}

impl<'d> StartTags<'d> for Scope<'d> {
    fn open(&mut self, e: &'d ElementData, out: &mut Vec<u8>) -> (usize, usize) {
        (self.start(e, out), 0)
    }

    fn close(&mut self, (mark, _): (usize, usize)) {
        self.leave(mark);
    }
}

#[cfg(test)]
mod tests {
    use super::Scope;
    use crate::dom::Document;
    use crate::Limits;

    fn canonical(xml: &str) -> String {
        let doc = Document::parse(xml.as_bytes(), &Limits::default()).expect("well-formed");
        let mut out = Vec::new();
        Scope::default().subtree(&doc, doc.root(), &mut out);
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn redundant_declarations_go_and_the_rest_are_sorted() {
        assert_eq!(
            canonical(
                r#"<a:r xmlns:z="urn:z" xmlns:a="urn:a" z:b="2" a="1"><a:x xmlns:a="urn:a" xmlns:n="urn:n"/></a:r>"#
            ),
            r#"<a:r xmlns:a="urn:a" xmlns:z="urn:z" a="1" z:b="2"><a:x xmlns:n="urn:n"></a:x></a:r>"#
        );
    }

    #[test]
    fn an_empty_default_namespace_is_written_only_where_it_changes_the_scope() {
        assert_eq!(
            canonical(r#"<r xmlns=""><d xmlns="urn:d"><e xmlns=""><f xmlns=""/></e></d></r>"#),
            r#"<r><d xmlns="urn:d"><e xmlns=""><f></f></e></d></r>"#
        );
    }

    fn standalone(xml: &str, path: &[usize]) -> String {
        let doc = Document::parse(xml.as_bytes(), &Limits::default()).expect("well-formed");
        let mut node = doc.root();
        for i in path {
            node = doc.child_elements(node).nth(*i).expect("a child element");
        }
        let mut out = Vec::new();
        super::standalone(&doc, node, &mut out);
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn an_element_on_its_own_declares_every_namespace_in_scope() {
        let xml = r#"<s:E xmlns:s="urn:s" xmlns:a="urn:a" xml:lang="en"><s:B xmlns:a="urn:a2" xmlns="urn:d"><x xmlns:z="urn:z" t="a:q"><a:y xmlns=""/></x></s:B></s:E>"#;
        assert_eq!(
            standalone(xml, &[0, 0]),
            r#"<x xmlns="urn:d" xmlns:a="urn:a2" xmlns:s="urn:s" xmlns:z="urn:z" t="a:q"><a:y xmlns=""></a:y></x>"#
        );
        // no default namespace in scope: none declared, nor an empty one
        assert_eq!(
            standalone(r#"<r xmlns="urn:d"><e xmlns=""><f/></e></r>"#, &[0]),
            "<e><f></f></e>"
        );
    }

    #[test]
    fn text_and_attributes_are_escaped_as_canonical_xml_escapes_them() {
        assert_eq!(
            canonical("<r v=\"a&#9;b&#10;&quot;&lt;&amp;\">x &gt; &amp; &lt;&#13;<?p d?></r>"),
            "<r v=\"a&#x9;b&#xA;&quot;&lt;&amp;\">x &gt; &amp; &lt;&#xD;<?p d?></r>"
        );
    }
}

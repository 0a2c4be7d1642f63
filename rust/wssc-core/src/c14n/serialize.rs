//! The core's plain serializer (the writer of a protected message's parts, `message::writer`): each element
//! with its own namespace declarations, attributes in document order, escaped as Canonical XML escapes.

use super::{walk, write_attribute, write_declaration, write_qname, StartTags};
use crate::dom::{Document, ElementData, NodeId};

/// The core's serializer for the parts of its output that are not signed: the subtree at `node` with each
/// element's own namespace declarations written as they are (not only the visibly utilized ones, and no
/// others), attributes in document order, text and attribute values escaped exactly as Canonical XML 1.0
/// section 2.3 escapes them, an empty element as a start and an end tag, processing instructions as
/// Canonical XML writes them.
///
/// Namespace URIs are escaped as attribute values (Canonical XML writes them as they are, which for a URI
/// with `&` is not well-formed); the output is always well-formed for a tree [`Document::parse`] built.
pub fn write_node(doc: &Document, node: NodeId, out: &mut Vec<u8>) {
    write_nodes(doc, std::slice::from_ref(&node), out);
}

/// [`write_node`] for each of `nodes` in turn (one walk: a start tag's children written without a walk each).
pub fn write_nodes(doc: &Document, nodes: &[NodeId], out: &mut Vec<u8>) {
    walk(doc, nodes, &mut Plain, out);
}

/// Start tags with each element's own declarations and attributes as they are.
struct Plain;

impl<'d> StartTags<'d> for Plain {
    fn open(&mut self, e: &'d ElementData, out: &mut Vec<u8>) -> (usize, usize) {
        out.push(b'<');
        write_qname(out, &e.name.prefix, &e.name.local);
        for (p, uri) in &e.namespace_declarations {
            write_declaration(out, p, uri);
        }
        for a in &e.attributes {
            write_attribute(out, a);
        }
        out.push(b'>');
        (0, 0)
    }
}

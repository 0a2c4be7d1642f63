//! The core's plain serializer (the writer of a protected message's parts, `message::writer`): each element
//! with its own namespace declarations, attributes in document order, escaped as Canonical XML escapes.

use super::{write_attribute, write_declaration_name, write_end, write_pi, write_qname, Step};
use crate::dom::{Document, NodeId, NodeKind};
use crate::xmltext::{write_attribute_value, write_text};

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
    let mut stack: Vec<Step<'_>> = nodes.iter().rev().map(|n| Step::Enter(*n)).collect();
    while let Some(step) = stack.pop() {
        match step {
            Step::Enter(id) => match doc.nodes().get(id).map(|n| &n.kind) {
                Some(NodeKind::Element(e)) => {
                    out.push(b'<');
                    write_qname(out, &e.name.prefix, &e.name.local);
                    for (p, uri) in &e.namespace_declarations {
                        write_declaration_name(out, p);
                        out.push(b'"');
                        write_attribute_value(out, uri);
                        out.push(b'"');
                    }
                    for a in &e.attributes {
                        write_attribute(out, a);
                    }
                    out.push(b'>');
                    stack.push(Step::Leave(e, 0, 0));
                    stack.extend(e.children.iter().rev().map(|c| Step::Enter(*c)));
                }
                Some(NodeKind::Text(t)) => write_text(out, t),
                Some(NodeKind::Pi { target, data }) => write_pi(out, target, data),
                None => {}
            },
            Step::Leave(e, _, _) => write_end(e, out),
        }
    }
}

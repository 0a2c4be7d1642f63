//! The walk the core's writers share (exclusive c14n, the canonical output, the plain serializer): they
//! differ only in how they write a start tag.

use super::{write_end, write_pi};
use crate::dom::{Document, ElementData, NodeId, NodeKind};
use crate::xmltext::write_text;

/// A step of a walk over a subtree: a node to write, or the end tag of an element written (with what its
/// start tag put in scope, to undo).
enum Step<'d> {
    Enter(NodeId),
    Leave(&'d ElementData, (usize, usize)),
}

/// How a [`walk`] writes start tags: the one thing the core's writers do differently.
pub(crate) trait StartTags<'d> {
    /// Write the start tag of `e`; what [`StartTags::close`] needs to undo what it put in scope.
    fn open(&mut self, e: &'d ElementData, out: &mut Vec<u8>) -> (usize, usize);
    /// After the end tag of an element [`StartTags::open`] wrote.
    fn close(&mut self, _marks: (usize, usize)) {}
}

/// The subtrees at `nodes` in document order, start tags as `tags` writes them, end tags, text and
/// processing instructions as Canonical XML writes them; iteratively (the depth of a tree is bounded only by
/// the caller's [`crate::Limits`]).
pub(crate) fn walk<'d>(
    doc: &'d Document,
    nodes: &[NodeId],
    tags: &mut impl StartTags<'d>,
    out: &mut Vec<u8>,
) {
    let mut stack: Vec<Step<'d>> = nodes.iter().rev().map(|n| Step::Enter(*n)).collect();
    while let Some(step) = stack.pop() {
        match step {
            Step::Enter(id) => match doc.nodes().get(id).map(|n| &n.kind) {
                Some(NodeKind::Element(e)) => {
                    let marks = tags.open(e, out);
                    stack.push(Step::Leave(e, marks));
                    stack.extend(e.children.iter().rev().map(|c| Step::Enter(*c)));
                }
                Some(NodeKind::Text(t)) => write_text(out, t),
                Some(NodeKind::Pi { target, data }) => write_pi(out, target, data),
                None => {}
            },
            Step::Leave(e, marks) => {
                write_end(e, out);
                tags.close(marks);
            }
        }
    }
}

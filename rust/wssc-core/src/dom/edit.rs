//! The changes made to a parsed tree: XML Encryption's decryption (XML-Enc 1.0 section 4.5, an EncryptedData
//! replaced by the nodes of its plaintext) and the writer of a protected message (new elements, attributes and
//! declarations).

use super::{Attribute, Document, ElementData, Name, Node, NodeId, NodeKind};

impl Document {
    /// Put `with` where `node` is among its parent's children (`node` detached, `with` given that parent);
    /// text nodes made adjacent are merged into the first of them (the others are detached).
    pub fn replace(&mut self, node: NodeId, with: &[NodeId]) {
        let Some(parent) = self.parent(node) else {
            return;
        };
        let Some(index) = self.children(parent).iter().position(|c| *c == node) else {
            return;
        };
        self.detach(node);
        self.insert_children(parent, index, with);
        let end = (index + with.len() + 1).min(self.children(parent).len());
        self.merge_text(parent, index.saturating_sub(1), end);
    }

    /// Merge the runs of adjacent text children of `parent` within `children[start..end]`.
    fn merge_text(&mut self, parent: NodeId, start: usize, end: usize) {
        let mut i = start;
        let mut end = end;
        while i + 1 < end {
            let (Some(a), Some(b)) = (
                self.children(parent).get(i).copied(),
                self.children(parent).get(i + 1).copied(),
            ) else {
                return;
            };
            let a_is_text = matches!(self.nodes.get(a).map(|n| &n.kind), Some(NodeKind::Text(_)));
            let second = match self.nodes.get(b).map(|n| &n.kind) {
                Some(NodeKind::Text(t)) if a_is_text => t.clone(),
                _ => {
                    i += 1;
                    continue;
                }
            };
            if let Some(Node {
                kind: NodeKind::Text(t),
                ..
            }) = self.nodes.get_mut(a)
            {
                t.push_str(&second);
            }
            self.detach(b);
            end -= 1;
        }
    }

    /// Take `node` out of its parent's children (it keeps no parent).
    pub fn detach(&mut self, node: NodeId) {
        let Some(parent) = self.parent(node) else {
            return;
        };
        if let Some(e) = self.element_mut(parent) {
            e.children.retain(|c| *c != node);
        }
        if let Some(n) = self.nodes.get_mut(node) {
            n.parent = None;
        }
    }

    /// Insert `nodes` among the children of `parent` at `index` (clamped to the end), each given `parent`.
    /// Text nodes are not merged here.
    pub fn insert_children(&mut self, parent: NodeId, index: usize, nodes: &[NodeId]) {
        let Some(e) = self.element_mut(parent) else {
            return;
        };
        let index = index.min(e.children.len());
        e.children.splice(index..index, nodes.iter().copied());
        for id in nodes {
            if let Some(n) = self.nodes.get_mut(*id) {
                n.parent = Some(parent);
            }
        }
    }

    fn push(&mut self, kind: NodeKind, parent: NodeId) -> NodeId {
        self.nodes.push(Node {
            kind,
            parent: Some(parent),
        });
        self.nodes.len() - 1
    }

    /// A new text node whose parent is `parent`, not yet among its children.
    pub fn new_text(&mut self, text: &str, parent: NodeId) -> NodeId {
        self.push(NodeKind::Text(text.to_string()), parent)
    }

    /// A new element whose parent is `parent` (for namespace lookups), not yet among its children.
    pub fn new_element(&mut self, name: Name, parent: NodeId) -> NodeId {
        self.push(
            NodeKind::Element(ElementData {
                name,
                attributes: Vec::new(),
                namespace_declarations: Vec::new(),
                children: Vec::new(),
            }),
            parent,
        )
    }

    /// Set an attribute, replacing the one of the same expanded name.
    pub fn set_attribute(&mut self, id: NodeId, attribute: Attribute) {
        let Some(e) = self.element_mut(id) else {
            return;
        };
        match e
            .attributes
            .iter_mut()
            .find(|a| a.name.local == attribute.name.local && a.name.ns == attribute.name.ns)
        {
            Some(a) => *a = attribute,
            None => e.attributes.push(attribute),
        }
    }

    /// Declare `prefix` ("" for the default namespace) on `id`, replacing its declaration there if any.
    pub fn declare_namespace(&mut self, id: NodeId, prefix: &str, uri: &str) {
        let Some(e) = self.element_mut(id) else {
            return;
        };
        match e
            .namespace_declarations
            .iter_mut()
            .find(|(p, _)| p == prefix)
        {
            Some(d) => d.1 = uri.into(),
            None => e.namespace_declarations.push((prefix.into(), uri.into())),
        }
    }
}

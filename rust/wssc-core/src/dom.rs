//! The document tree the core works on: an arena of nodes built from quick-xml's tokens by [`parse`] (every
//! well-formedness, namespace and bound check there), read by c14n and the message layer, and changed only
//! by XML Encryption's decryption (XML-Enc 1.0 section 4.5: an `EncryptedData` replaced by the nodes its
//! plaintext parses into) and by the writer of the protected message.
//!
//! The tree holds what exclusive c14n without comments sees (Exc-C14N section 3, over Canonical XML 1.0
//! section 2.3): elements with their namespace declarations and attributes (values normalized, references
//! expanded), text (CDATA sections and references merged into it, line ends normalized) and processing
//! instructions.  Comments are dropped when parsed, so that text a comment cut in two is one text node, as in
//! lxml with `remove_comments=True`.

use crate::{Limits, XmlError, XML_NS};

mod parse;
mod shared;

pub use shared::XmlStr;

/// The index of a node in its [`Document`].
pub type NodeId = usize;

/// An expanded name with the prefix it was written with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    /// "" for none
    pub prefix: XmlStr,
    pub local: XmlStr,
    /// "" for no namespace
    pub ns: XmlStr,
}

impl Name {
    /// The qualified name, as written in a tag.
    pub fn qname(&self) -> std::borrow::Cow<'_, str> {
        if self.prefix.is_empty() {
            std::borrow::Cow::Borrowed(&self.local)
        } else {
            std::borrow::Cow::Owned(format!("{}:{}", self.prefix, self.local))
        }
    }
}

/// An attribute other than a namespace declaration.
#[derive(Debug, Clone)]
pub struct Attribute {
    pub name: Name,
    /// the normalized value (XML 1.0 section 3.3.3), references expanded
    pub value: String,
}

#[derive(Debug, Clone)]
pub struct ElementData {
    pub name: Name,
    /// the attributes in document order, namespace declarations not included
    pub attributes: Vec<Attribute>,
    /// the namespace declarations on this element, in document order: (prefix, URI), prefix "" for the
    /// default namespace, URI "" only for `xmlns=""`.  `xmlns:xml` (allowed only as what it is) is not kept.
    pub namespace_declarations: Vec<(String, String)>,
    pub children: Vec<NodeId>,
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    Element(ElementData),
    Text(String),
    /// A processing instruction; `data` without the white space that separates it from the target.
    Pi {
        target: String,
        data: String,
    },
}

#[derive(Debug, Clone)]
pub struct Node {
    pub kind: NodeKind,
    pub parent: Option<NodeId>,
}

/// A parsed document: the document element and everything under it.  Processing instructions outside the
/// document element are checked and dropped (exclusive c14n of an element never writes them).
#[derive(Debug, Clone)]
pub struct Document {
    nodes: Vec<Node>,
    root: NodeId,
    /// the names met by the parse and the fragment parses since, shared by them
    names: shared::Interner,
}

impl Document {
    /// Parse a UTF-8 document (one UTF-8 BOM allowed), refused on a DTD, an entity reference other than the
    /// five predefined ones, a namespace error, a relative namespace URI or one of `limits`.
    pub fn parse(input: &[u8], limits: &Limits) -> Result<Document, XmlError> {
        let mut nodes = Vec::new();
        let mut names = shared::Interner::new();
        let root = parse::parse_document(&mut nodes, &mut names, input, limits)?;
        Ok(Document { nodes, root, names })
    }

    /// The document element.
    pub fn root(&self) -> NodeId {
        self.root
    }

    /// Every node of the arena, detached ones included, in creation order (document order for a parse).
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The node `id`.  An id is only ever one this document handed out: another panics (a caller's bug).
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    pub fn element(&self, id: NodeId) -> Option<&ElementData> {
        match &self.nodes.get(id)?.kind {
            NodeKind::Element(e) => Some(e),
            _ => None,
        }
    }

    fn element_mut(&mut self, id: NodeId) -> Option<&mut ElementData> {
        match &mut self.nodes.get_mut(id)?.kind {
            NodeKind::Element(e) => Some(e),
            _ => None,
        }
    }

    pub fn parent(&self, id: NodeId) -> Option<NodeId> {
        self.nodes.get(id)?.parent
    }

    /// The children of an element (none for another node).
    pub fn children(&self, id: NodeId) -> &[NodeId] {
        self.element(id).map_or(&[], |e| e.children.as_slice())
    }

    pub fn child_elements(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        self.children(id)
            .iter()
            .copied()
            .filter(|c| self.element(*c).is_some())
    }

    /// Whether `id` is an element of this expanded name.
    pub fn is(&self, id: NodeId, ns: &str, local: &str) -> bool {
        self.element(id)
            .is_some_and(|e| e.name.local == local && e.name.ns == ns)
    }

    /// The value of the attribute of this expanded name (`ns` "" for an unqualified attribute).
    pub fn attribute(&self, id: NodeId, ns: &str, local: &str) -> Option<&str> {
        self.element(id)?
            .attributes
            .iter()
            .find(|a| a.name.local == local && a.name.ns == ns)
            .map(|a| a.value.as_str())
    }

    /// The text children of `id` concatenated (not the text of descendants).
    pub fn text(&self, id: NodeId) -> String {
        let mut text = String::new();
        for child in self.children(id) {
            if let Some(Node {
                kind: NodeKind::Text(t),
                ..
            }) = self.nodes.get(*child)
            {
                text.push_str(t);
            }
        }
        text
    }

    /// The URI `prefix` ("" for the default namespace) is bound to at `id` (at its parent for a node other
    /// than an element): `Some("")` under `xmlns=""`, None when no declaration is in scope.
    pub fn lookup_namespace(&self, id: NodeId, prefix: &str) -> Option<&str> {
        if prefix == "xml" {
            return Some(XML_NS);
        }
        let mut current = Some(id);
        while let Some(n) = current {
            let node = self.nodes.get(n)?;
            if let NodeKind::Element(e) = &node.kind {
                if let Some((_, uri)) = e.namespace_declarations.iter().find(|(p, _)| p == prefix) {
                    return Some(uri);
                }
            }
            current = node.parent;
        }
        None
    }

    /// The namespace bindings in scope at `id`, the nearest per prefix, sorted by prefix ("" for the
    /// default namespace; an undeclared default namespace, `xmlns=""`, is no binding and not listed).
    pub fn in_scope_namespaces(&self, id: NodeId) -> Vec<(String, String)> {
        let mut found: Vec<(String, String)> = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        let mut current = Some(id);
        while let Some(node) = current.and_then(|n| self.nodes.get(n)) {
            if let NodeKind::Element(e) = &node.kind {
                for (p, uri) in &e.namespace_declarations {
                    if !seen.contains(&p.as_str()) {
                        seen.push(p);
                        if !uri.is_empty() {
                            found.push((p.clone(), uri.clone()));
                        }
                    }
                }
            }
            current = node.parent;
        }
        found.sort();
        found
    }

    /// Every namespace declaration on the ancestors-or-self of `id`, outermost first (what a parser has in
    /// scope there, shadowed declarations included, which [`Limits::max_namespaces_in_scope`] counts).
    fn declarations_in_scope(&mut self, id: NodeId) -> Vec<(XmlStr, XmlStr)> {
        let mut chain = Vec::new();
        let mut current = Some(id);
        while let Some(node) = current.and_then(|n| self.nodes.get(n)) {
            if let NodeKind::Element(e) = &node.kind {
                chain.push(&e.namespace_declarations);
            }
            current = node.parent;
        }
        let names = &mut self.names;
        chain
            .into_iter()
            .rev()
            .flatten()
            .map(|(p, u)| (names.get(p), names.get(u)))
            .collect()
    }

    /// The elements on the ancestor-or-self path of `id`: the document element is at depth 1.
    pub fn depth(&self, id: NodeId) -> usize {
        let mut depth = 0;
        let mut current = Some(id);
        while let Some(node) = current.and_then(|n| self.nodes.get(n)) {
            if matches!(node.kind, NodeKind::Element(_)) {
                depth += 1;
            }
            current = node.parent;
        }
        depth
    }

    /// XML Encryption 1.0 section 4.5 (the decryptor's step 3, `Type` Element or Content): parse `input` as
    /// element content in the namespace context of `context` (its in-scope declarations), with every check
    /// [`Document::parse`] makes, depth counted from `context`'s.  Unbalanced input, an XML declaration, a
    /// DTD or a BOM is refused.  The new top-level nodes (elements, text, PIs) have `context` as parent and
    /// are not yet among its children ([`Document::replace`] puts them there).  On an error the document is
    /// unchanged.
    pub fn parse_fragment(
        &mut self,
        input: &[u8],
        context: NodeId,
        limits: &Limits,
    ) -> Result<Vec<NodeId>, XmlError> {
        if self.element(context).is_none() {
            return Err(XmlError::Malformed(
                "fragment context is not an element".into(),
            ));
        }
        let scope = self.declarations_in_scope(context);
        let depth = self.depth(context);
        let before = self.nodes.len();
        let result = parse::parse_fragment(
            &mut self.nodes,
            &mut self.names,
            input,
            context,
            scope,
            depth,
            limits,
        );
        if result.is_err() {
            self.nodes.truncate(before);
        }
        result
    }

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
            Some(d) => d.1 = uri.to_string(),
            None => e
                .namespace_declarations
                .push((prefix.to_string(), uri.to_string())),
        }
    }
}

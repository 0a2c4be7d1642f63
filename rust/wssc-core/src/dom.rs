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

mod edit;
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
    pub namespace_declarations: Vec<(XmlStr, XmlStr)>,
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
}

impl Document {
    /// Parse a UTF-8 document (one UTF-8 BOM allowed), refused on a DTD, an entity reference other than the
    /// five predefined ones, a namespace error, a relative namespace URI or one of `limits`.
    pub fn parse(input: &[u8], limits: &Limits) -> Result<Document, XmlError> {
        let mut nodes = Vec::new();
        let root = shared::with_names(|names| {
            names.start_document();
            parse::parse_document(&mut nodes, names, input, limits)
        })?;
        Ok(Document { nodes, root })
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

    /// Every namespace declaration on the ancestors-or-self of `id`, outermost first (what a parser has in
    /// scope there, shadowed declarations included, which [`Limits::max_namespaces_in_scope`] counts).
    fn declarations_in_scope(&self, id: NodeId) -> Vec<(XmlStr, XmlStr)> {
        let mut chain = Vec::new();
        let mut current = Some(id);
        while let Some(node) = current.and_then(|n| self.nodes.get(n)) {
            if let NodeKind::Element(e) = &node.kind {
                chain.push(&e.namespace_declarations);
            }
            current = node.parent;
        }
        shared::with_names(|names| {
            chain
                .into_iter()
                .rev()
                .flatten()
                .map(|(p, u)| (names.get(p), names.get(u)))
                .collect()
        })
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
        let result = shared::with_names(|names| {
            parse::parse_fragment(&mut self.nodes, names, input, context, scope, depth, limits)
        });
        if result.is_err() {
            self.nodes.truncate(before);
        }
        result
    }
}

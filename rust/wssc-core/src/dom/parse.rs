//! Building the tree from quick-xml's tokens, with every check quick-xml leaves to its caller: XML 1.0
//! (fifth edition) well-formedness beyond the tokens, Namespaces in XML 1.0, the absolute namespace URIs
//! Canonical XML 1.0 requires (section 2.1, "relative namespace URIs ... are an error"), no DTD, the five
//! predefined entities only, UTF-8 only, and the [`Limits`].

use quick_xml::events::Event;
use quick_xml::reader::Reader;

mod tag;

use super::shared::Interner;
use super::{Node, NodeId, NodeKind, XmlStr};
use crate::names::{all_chars_allowed, is_ncname};
use crate::xmltext::{
    check_declaration, check_namespace_uri, has_cdata_end, push_normalized_line_ends,
    resolve_reference,
};
use crate::{Limits, XmlError, XML_NS};

type Result<T> = std::result::Result<T, XmlError>;

pub(crate) fn malformed(why: &str) -> XmlError {
    XmlError::Malformed(why.to_string())
}

fn ns_error(why: &str) -> XmlError {
    XmlError::Namespace(why.to_string())
}

/// The input as text: within the size bound, UTF-8, every character an XML 1.0 Char.
fn decode<'a>(input: &'a [u8], limits: &Limits) -> Result<&'a str> {
    if input.len() > limits.max_document_bytes {
        return Err(XmlError::TooLarge);
    }
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    if input.starts_with(b"\xFE\xFF") || input.starts_with(b"\xFF\xFE") || input.starts_with(b"\0")
    {
        return Err(XmlError::Encoding("UTF-16 or UTF-32 input"));
    }
    let text = std::str::from_utf8(input).map_err(|_| XmlError::Encoding("invalid UTF-8"))?;
    if text.starts_with('\u{FEFF}') {
        // a second BOM is a character before the document element (quick-xml would skip it as a BOM)
        return Err(malformed("text before the document element"));
    }
    if !all_chars_allowed(text) {
        return Err(malformed("a character outside XML 1.0's Char production"));
    }
    Ok(text)
}

/// Parse a document into `nodes`; the document element's id.
pub(super) fn parse_document(
    nodes: &mut Vec<Node>,
    names: &mut Interner,
    input: &[u8],
    limits: &Limits,
) -> Result<NodeId> {
    let text = decode(input, limits)?;
    // one node per markup start is about right (elements, text between tags); and room for what a message's
    // encrypted parts will add when decrypted (their plaintext is markup as dense as a SOAP Body, about one
    // node in 40 bytes of the message), so that the arena is not copied when they are
    let markup = memchr::memchr_iter(b'<', text.as_bytes()).count() + 1;
    nodes.reserve(markup.max(text.len() / ROOM_PER_NODE));
    let mut builder = Builder {
        nodes,
        limits,
        scope: Vec::with_capacity(SCOPE_ROOM),
        names,
        open: Vec::with_capacity(OPEN_ROOM),
        children: Vec::with_capacity(CHILDREN_ROOM),
        base_depth: 0,
        context: None,
        top: Vec::new(),
        root_closed: false,
    };
    builder.run(text)?;
    match builder.top.first() {
        Some(root) => Ok(*root),
        None => Err(malformed("no document element")),
    }
}

/// Room made at once for the builder's stacks, about what a SOAP message with its security header needs
/// (declarations in scope, open elements, children of the open elements): a stack grown from empty one
/// doubling at a time cost more than the rest of the parse of a small message.
const SCOPE_ROOM: usize = 32;
const OPEN_ROOM: usize = 16;
const CHILDREN_ROOM: usize = 64;

/// Bytes of a message per node reserved for the tree (see [`parse_document`]).
const ROOM_PER_NODE: usize = 40;

/// What wssc's Python path refuses anywhere in decrypted data (see [`parse_fragment`]).
const REFUSED_IN_FRAGMENT: [&[u8]; 3] = [b"<!DOCTYPE", b"<!ENTITY", b"<?xml"];

/// Parse element content (XML 1.0 [43]) into `nodes` in the context of the element `context` (at `depth`,
/// with the declarations `scope` in scope); the top-level nodes.
pub(super) fn parse_fragment(
    nodes: &mut Vec<Node>,
    names: &mut Interner,
    input: &[u8],
    context: NodeId,
    scope: Vec<(XmlStr, XmlStr)>,
    depth: usize,
    limits: &Limits,
) -> Result<Vec<NodeId>> {
    if input.starts_with(b"\xEF\xBB\xBF") {
        return Err(malformed("a byte order mark in element content"));
    }
    // wssc's Python path (wssc.primitives.xml.parse_fragment) refuses decrypted data holding these bytes
    // (`<?xml` only in its first 64 bytes), even inside CDATA; refused here wherever they are, so that the
    // core never accepts a fragment that path refuses
    // each of them starts with `<`: one pass over the markup starts finds them all and counts the markup
    let mut markup = 0usize;
    for at in memchr::memchr_iter(b'<', input) {
        markup += 1;
        let rest = input.get(at..).unwrap_or_default();
        if REFUSED_IN_FRAGMENT
            .iter()
            .any(|needle| rest.starts_with(needle))
        {
            return Err(malformed("decrypted data is not an XML fragment"));
        }
    }
    let text = decode(input, limits)?;
    // one node per markup start is about right (elements, text between tags); the arena never regrows
    nodes.reserve(markup + 1);
    let mut builder = Builder {
        nodes,
        limits,
        scope,
        names,
        open: Vec::with_capacity(OPEN_ROOM),
        children: Vec::with_capacity(CHILDREN_ROOM),
        base_depth: depth,
        context: Some(context),
        top: Vec::new(),
        root_closed: false,
    };
    builder.run(text)?;
    Ok(builder.top)
}

struct Builder<'a> {
    nodes: &'a mut Vec<Node>,
    limits: &'a Limits,
    /// namespace declarations in scope, innermost last: (prefix, URI), prefix "" for the default namespace
    /// (URI "" for `xmlns=""`)
    scope: Vec<(XmlStr, XmlStr)>,
    /// the names and namespace URIs the document's parses met so far, each allocated once
    names: &'a mut Interner,
    /// open elements: (id, length of `scope` before its declarations, start of its children in `children`)
    open: Vec<(NodeId, usize, usize)>,
    /// the children of the open elements, innermost last: each element's list is made at its end tag, one
    /// allocation of the right size rather than a vector grown child by child
    children: Vec<NodeId>,
    /// depth of the context element of a fragment (0 for a document)
    base_depth: usize,
    /// the context element of a fragment (None for a document)
    context: Option<NodeId>,
    /// the top-level nodes: the document element, or a fragment's nodes
    top: Vec<NodeId>,
    root_closed: bool,
}

impl Builder<'_> {
    fn fragment(&self) -> bool {
        self.context.is_some()
    }

    fn run(&mut self, text: &str) -> Result<()> {
        let mut reader = Reader::from_str(text);
        {
            let config = reader.config_mut();
            config.trim_text(false);
            config.expand_empty_elements = false;
            config.check_end_names = true;
            config.check_comments = true;
            config.allow_dangling_amp = false;
            config.allow_unmatched_ends = false;
        }
        let mut first = true;
        loop {
            let event = reader
                .read_event()
                .map_err(|e| XmlError::Malformed(e.to_string()))?;
            let was_first = std::mem::replace(&mut first, false);
            match event {
                Event::Decl(decl) => {
                    if !was_first || self.fragment() {
                        return Err(malformed("XML declaration not at the start"));
                    }
                    check_declaration(&decl)?;
                }
                Event::DocType(_) => return Err(XmlError::Dtd),
                Event::PI(pi) => {
                    let target = pi.target();
                    // Namespaces in XML 1.0 section 7: no colon in a PI target (libxml2 refuses one)
                    if !is_ncname(target) || target.eq_ignore_ascii_case("xml") {
                        return Err(malformed("bad processing instruction target"));
                    }
                    let content = pi.content();
                    if !content.is_empty() && !content.starts_with([' ', '\t', '\r', '\n']) {
                        return Err(malformed("bad processing instruction"));
                    }
                    if self.open.is_empty() && !self.fragment() {
                        continue; // outside the document element: checked, not kept
                    }
                    let mut data = String::new();
                    push_normalized_line_ends(
                        &mut data,
                        content.trim_start_matches([' ', '\t', '\r', '\n']),
                    );
                    let kind = NodeKind::Pi {
                        target: target.to_string(),
                        data,
                    };
                    self.add(kind);
                }
                Event::Comment(_) => {}
                Event::Start(e) => self.start(&e, false)?,
                Event::Empty(e) => self.start(&e, true)?,
                Event::End(_) => {
                    // quick-xml checked that the name matches the start tag's (check_end_names)
                    if self.open.is_empty() {
                        return Err(malformed("end tag without start tag"));
                    }
                    self.close();
                }
                Event::Text(t) => {
                    if self.open.is_empty() && !self.fragment() {
                        // outside the document element only white space (S) may appear
                        if !t.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n')) {
                            return Err(malformed("text outside the document element"));
                        }
                        continue;
                    }
                    if has_cdata_end(t.as_bytes()) {
                        return Err(malformed("']]>' in character data"));
                    }
                    self.text(&t, true);
                }
                Event::CData(t) => {
                    if self.open.is_empty() && !self.fragment() {
                        return Err(malformed("CDATA outside the document element"));
                    }
                    self.text(&t, true);
                }
                Event::GeneralRef(r) => {
                    if self.open.is_empty() && !self.fragment() {
                        return Err(malformed("reference outside the document element"));
                    }
                    let c = resolve_reference(&r)?;
                    let mut buf = [0u8; 4];
                    self.text(c.encode_utf8(&mut buf), false);
                }
                Event::Eof => break,
            }
        }
        if !self.open.is_empty() {
            return Err(malformed("unclosed element"));
        }
        Ok(())
    }

    /// The parent of the next node: the innermost open element, or a fragment's context.
    fn parent(&self) -> Option<NodeId> {
        self.open.last().map(|(id, _, _)| *id).or(self.context)
    }

    /// Append a node to the innermost open element (or the top level).
    fn add(&mut self, kind: NodeKind) -> NodeId {
        let parent = self.parent();
        let id = self.nodes.len();
        self.nodes.push(Node { kind, parent });
        if self.open.is_empty() {
            self.top.push(id);
        } else {
            self.children.push(id);
        }
        id
    }

    /// Character data, appended to the text node before it if any; literal text (not a reference) is line
    /// end normalized (XML 1.0 section 2.11).
    fn text(&mut self, t: &str, literal: bool) {
        let last = match self.open.last() {
            Some((_, _, start)) => self.children.get(*start..).and_then(|c| c.last().copied()),
            None => self.top.last().copied(),
        };
        let merge =
            last.filter(|l| matches!(self.nodes.get(*l).map(|n| &n.kind), Some(NodeKind::Text(_))));
        let id = match merge {
            Some(l) => l,
            None => self.add(NodeKind::Text(String::with_capacity(t.len()))),
        };
        let Some(Node {
            kind: NodeKind::Text(target),
            ..
        }) = self.nodes.get_mut(id)
        else {
            return;
        };
        if literal {
            push_normalized_line_ends(target, t);
        } else {
            target.push_str(t);
        }
    }

    fn close(&mut self) {
        if let Some((id, scope_len, start)) = self.open.pop() {
            self.scope.truncate(scope_len);
            let children: Vec<NodeId> = self
                .children
                .drain(start.min(self.children.len())..)
                .collect();
            if let Some(Node {
                kind: NodeKind::Element(e),
                ..
            }) = self.nodes.get_mut(id)
            {
                e.children = children;
            }
        }
        if self.open.is_empty() && !self.fragment() {
            self.root_closed = true;
        }
    }

    /// The URI a declared prefix is bound to ("" for the default namespace undeclared); None for a prefix
    /// not declared.
    fn lookup(&mut self, prefix: &str) -> Option<XmlStr> {
        if prefix == "xml" {
            return Some(self.names.get(XML_NS));
        }
        self.scope
            .iter()
            .rev()
            .find(|(p, _)| p.as_str() == prefix)
            .map(|(_, uri)| uri.clone())
    }

    /// A declared namespace URI, interned, once [`check_namespace_uri`] found it absolute: each URI is checked
    /// once while the thread's table of names remembers it (a SOAP message declares a few namespaces again and
    /// again).
    fn check_uri(&mut self, uri: &str) -> Result<XmlStr> {
        let interned = self.names.get(uri);
        if self.names.checked(&interned) {
            return Ok(interned);
        }
        check_namespace_uri(uri)?;
        self.names.mark_checked(interned.clone());
        Ok(interned)
    }
}

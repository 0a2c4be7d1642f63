//! The compiled core of wssc.
//!
//! This first piece is exclusive XML canonicalization 1.0 without comments
//! (<https://www.w3.org/TR/xml-exc-c14n/>, over Canonical XML 1.0, <https://www.w3.org/TR/xml-c14n>) of one
//! element subtree of a document, byte-identical to lxml's
//! `etree.tostring(el, method="c14n", exclusive=True, with_comments=False, inclusive_ns_prefixes=...)`,
//! which is what `wssc.primitives.xml.c14n` computes.
//!
//! The document is read by quick-xml's tokenizer into a tree ([`dom`]); everything above the tokens
//! (well-formedness checks that quick-xml leaves to its caller, namespaces, references, attribute-value
//! normalization, the output) is here.  The input is refused, never repaired, when it is outside what a SOAP message may be: a DTD, an
//! entity reference other than the five predefined ones, an encoding other than UTF-8, a document beyond
//! the size and depth bounds below.

#![forbid(unsafe_code)]

mod c14n;
pub mod crypto;
pub mod dom;
pub mod message;
mod names;
mod xmltext;

pub use c14n::{exc_c14n, exc_c14n_many, exc_c14n_node, exc_c14n_with_limits, write_node, Target};
pub use dom::{Attribute, Document, ElementData, Name, Node, NodeId, NodeKind, XmlStr};

/// The former name of [`XmlError`], kept for the binding.
pub type C14nError = XmlError;

/// Largest document accepted, in bytes (wssc `limits.MAX_MESSAGE_BYTES`: 4 MiB).
pub const MAX_DOCUMENT_BYTES: usize = 4 * 1024 * 1024;
/// Deepest element nesting accepted, the document element at depth 1 (wssc `limits.MAX_XML_DEPTH`, WCF's
/// `XmlDictionaryReaderQuotas.MaxDepth`: 32).
pub const MAX_DEPTH: usize = 32;
/// Attributes on one element, namespace declarations included.  No wssc or WCF precedent: a SOAP element
/// carries a handful; the bound keeps the duplicate-attribute checks (quadratic) cheap.
pub const MAX_ATTRIBUTES: usize = 256;
/// Namespace declarations in scope at any element.  No precedent either: a WS-Security message declares a
/// few dozen; the bound keeps every prefix lookup (linear in the declarations in scope) cheap.
pub const MAX_NAMESPACES_IN_SCOPE: usize = 256;

/// The XML namespace, bound to the prefix `xml` by definition.
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
/// The namespace of namespace declarations, which no prefix may be bound to.
pub const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";
/// The WS-Security utility namespace, of `wsu:Id`.
pub const WSU_NS: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";

/// The bounds one parse enforces; the defaults are the constants above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_document_bytes: usize,
    pub max_depth: usize,
    pub max_attributes: usize,
    pub max_namespaces_in_scope: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_document_bytes: MAX_DOCUMENT_BYTES,
            max_depth: MAX_DEPTH,
            max_attributes: MAX_ATTRIBUTES,
            max_namespaces_in_scope: MAX_NAMESPACES_IN_SCOPE,
        }
    }
}

/// Which element of the document to canonicalize.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selector<'a> {
    /// The document element.
    DocumentElement,
    /// The one element carrying this value in `wsu:Id`, an unqualified `Id` or `xml:id` (the target of a
    /// same-document reference `#value`).  A value carried by two elements anywhere in the document is
    /// refused ([`XmlError::DuplicateId`]): a reference must not be resolvable two ways.
    Id(&'a str),
    /// Child element indices from the document element: `[]` is the document element, `[1, 0]` the first
    /// child element of its second child element.  Text, comments and PIs are not counted.
    Path(&'a [usize]),
}

/// Why a document was not parsed or canonicalized.  The messages name the rule broken, never the document's
/// content beyond a short name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XmlError {
    /// The document exceeds [`Limits::max_document_bytes`].
    TooLarge,
    /// Elements are nested deeper than [`Limits::max_depth`].
    TooDeep,
    /// An element has more than [`Limits::max_attributes`] attributes.
    TooManyAttributes,
    /// More than [`Limits::max_namespaces_in_scope`] namespace declarations are in scope.
    TooManyNamespaces,
    /// The document is not UTF-8 (a BOM other than UTF-8's, an encoding declaration other than UTF-8,
    /// invalid UTF-8 bytes).
    Encoding(&'static str),
    /// A document type declaration (DTD), refused in SOAP messages.
    Dtd,
    /// An entity reference other than the five predefined ones and character references.
    Entity,
    /// The document is not well-formed XML 1.0.
    Malformed(String),
    /// The document breaks Namespaces in XML 1.0 (an undeclared prefix, a reserved prefix or namespace).
    Namespace(String),
    /// A namespace URI that is not absolute, which Canonical XML refuses.
    RelativeNamespace,
    /// No element matches the selector.
    NotFound,
    /// Two elements carry the identifier selected.
    DuplicateId,
}

impl std::fmt::Display for XmlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            XmlError::TooLarge => write!(f, "document too large"),
            XmlError::TooDeep => write!(f, "elements nested too deep"),
            XmlError::TooManyAttributes => write!(f, "too many attributes on one element"),
            XmlError::TooManyNamespaces => write!(f, "too many namespace declarations in scope"),
            XmlError::Encoding(why) => write!(f, "not a UTF-8 document: {why}"),
            XmlError::Dtd => write!(f, "DTDs are not allowed"),
            XmlError::Entity => write!(f, "entity reference other than the predefined ones"),
            XmlError::Malformed(why) => write!(f, "not well-formed XML: {why}"),
            XmlError::Namespace(why) => write!(f, "namespace error: {why}"),
            XmlError::RelativeNamespace => write!(f, "relative namespace URI"),
            XmlError::NotFound => write!(f, "no element matches the selector"),
            XmlError::DuplicateId => {
                write!(f, "the identifier is carried by more than one element")
            }
        }
    }
}

impl std::error::Error for XmlError {}

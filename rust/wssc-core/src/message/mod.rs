//! The per-message work of a security context: unprotect, in two phases (docs/core.md).  [`Incoming::parse`]
//! parses and locates the parts (`locate.rs`); [`Incoming::verify`] walks the Security header (WSS 1.1
//! sections 5-10: `unprotect.rs`, with `tokens.rs` for token references and derived keys, `dsig.rs` for the
//! signature, `xmlenc.rs` for decryption) and writes the output and the record (`output.rs`).  `xml.rs` reads
//! the tree as the Python path reads lxml's.
//! The sender, [`protect::protect`], writes the Python path's layout of the symmetric binding (`protect.rs`).
//!
//! The Python path (`wssc.security.unprotect`) is the reference: the core accepts a message only when it has
//! verified everything the Python path verifies, and otherwise *declines* ([`Declined`]) so that the Python
//! path decides.  It declines whatever lies outside the symmetric subset it implements (an EncryptedKey, an
//! X.509 token, a UsernameToken, a KeyIdentifier, an RSA signature, an endorsing signature, a Security header
//! with an actor or role, a second Security header, keys of two contexts) and everything it would refuse.
//! Where the Python path is lenient about an odd form (an element where text is expected, say), the core
//! declines rather than guess: declining costs only speed.

mod dsig;
mod encrypt;
mod envelope;
mod locate;
pub mod options;
mod output;
pub mod protect;
mod text;
mod tokens;
mod unprotect;
mod writer;
mod xml;
mod xmlenc;

use std::collections::HashMap;

use crate::dom::{Document, NodeId};

pub use output::{Part, Record};

/// The SOAP 1.1 envelope namespace (SOAP 1.1 section 4.1.2).
pub const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The SOAP 1.2 envelope namespace (SOAP 1.2 part 1 section 5).
pub const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
/// WSS 1.0 `wsse` (WSS 1.1 SOAP Message Security section 4).
pub const WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
/// WSS 1.1 `wsse11`.
pub const WSSE11: &str = "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd";
pub use crate::WSU_NS as WSU;
/// XML-DSig 1.0.
pub const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// XML-Enc 1.0.
pub const XENC: &str = "http://www.w3.org/2001/04/xmlenc#";
/// Exclusive XML Canonicalization 1.0 (the only c14n and transform accepted: WS-I BSP R5404, R5423).
pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
/// XML-Enc 1.0 section 3.4.1: the EncryptedData Type of an element.
pub const XENC_ELEMENT: &str = "http://www.w3.org/2001/04/xmlenc#Element";
/// XML-Enc 1.0 section 3.4.1: the EncryptedData Type of element content.
pub const XENC_CONTENT: &str = "http://www.w3.org/2001/04/xmlenc#Content";
/// WS-SC 1.3 (and 1.4, which kept the namespace).
pub const SC13: &str = "http://docs.oasis-open.org/ws-sx/ws-secureconversation/200512";
/// WS-SC February 2005.
pub const SC2005: &str = "http://schemas.xmlsoap.org/ws/2005/02/sc";
/// The WS-SC versions a reader accepts (`wssc.versions.VERSIONS`, in that order).
pub const SC_VERSIONS: [&str; 2] = [SC13, SC2005];
/// WS-Addressing 1.0 and its 2004/08 submission (`wssc.namespaces.WSA_NAMESPACES`).
pub const WSA_NAMESPACES: [&str; 2] = [
    "http://www.w3.org/2005/08/addressing",
    "http://schemas.xmlsoap.org/ws/2004/08/addressing",
];
/// `wssc.limits.DIGESTED_BYTES_ALLOWANCE`: the fixed part of a message's digest budget.
pub const DIGESTED_BYTES_ALLOWANCE: i64 = 64 * 1024;

/// The core declines a message: the Python path decides it.  The reason names a rule, never the message's
/// content or a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Declined(pub &'static str);

impl std::fmt::Display for Declined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

pub type Result<T> = std::result::Result<T, Declined>;

/// `wssc.limits.Limits`, the fields the core enforces (the defaults are WCF's, see limits.py).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageLimits {
    pub max_derivation_offset: u128,
    pub max_derivation_label: usize,
    pub max_derivation_nonce: usize,
    pub max_derived_key_length: u128,
    pub max_message_bytes: usize,
    pub max_xml_depth: usize,
    pub max_security_header_elements: usize,
    pub max_signature_references: usize,
    pub max_signatures: usize,
    pub digested_bytes_per_message_byte: i64,
}

impl Default for MessageLimits {
    fn default() -> Self {
        MessageLimits {
            max_derivation_offset: 64,
            max_derivation_label: 128,
            max_derivation_nonce: 128,
            max_derived_key_length: 64,
            max_message_bytes: 4 * 1024 * 1024,
            max_xml_depth: 32,
            max_security_header_elements: 64,
            max_signature_references: 100,
            max_signatures: 5,
            digested_bytes_per_message_byte: 4,
        }
    }
}

/// The algorithms a suite allows (None: any the core supports) and `Requirements.encrypted_signature`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub signature_methods: Option<Vec<String>>,
    pub digests: Option<Vec<String>>,
    pub ciphers: Option<Vec<String>>,
    pub encrypted_signature: bool,
}

/// A context the message names, to be resolved by the glue: Identifier, Instance, WS-SC namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextName {
    pub identifier: String,
    pub instance: Option<String>,
    pub namespace: Option<&'static str>,
}

/// Phase 1 of unprotect: the message parsed, its parts located and indexed, its Timestamp read and the
/// contexts whose keys phase 2 needs listed.
#[derive(Debug)]
pub struct Incoming {
    doc: Document,
    size: usize,
    limits: MessageLimits,
    soap: &'static str,
    envelope: NodeId,
    header: NodeId,
    body: NodeId,
    security: NodeId,
    /// wsu:Id and Id values at the indexed positions (`HeaderProcessor.index_positions`)
    ids: HashMap<String, NodeId>,
    /// (Created, Expires) text of the one wsu:Timestamp
    /// (Created, Expires, wsu:Id) of the one wsu:Timestamp
    pub timestamp: Option<(String, Option<String>, Option<String>)>,
    pub contexts: Vec<ContextName>,
}

impl Incoming {
    /// Phase 1 (`Receiver._unprotect` up to `HeaderProcessor.run`'s walk): parse, locate the Envelope,
    /// Header, Body and the one Security header, index the ids, read the Timestamp, list the contexts.
    pub fn parse(data: &[u8], limits: MessageLimits) -> Result<Incoming> {
        if data.len() > limits.max_message_bytes {
            return Err(Declined("message too large"));
        }
        // `wssc.primitives.xml.parse` refuses these byte strings anywhere (in a comment or CDATA too).
        xml::refuse_markup_declarations(data)?;
        let dom_limits = crate::Limits {
            max_document_bytes: limits.max_message_bytes,
            max_depth: limits.max_xml_depth,
            ..crate::Limits::default()
        };
        let doc = Document::parse(data, &dom_limits)
            .map_err(|_| Declined("not a well-formed message"))?;
        locate::locate(doc, data.len(), limits)
    }

    /// Phase 2: the walk with the context keys (aligned with [`Incoming::contexts`]), then the output.
    /// Consumes the message: decryption changes its tree.
    /// `on_authenticated` is told the message signature's value once it verified, before anything else is
    /// decrypted or digested (the receiver's replay check); when it answers false the walk stops, declined.
    pub fn verify(
        self,
        keys: &[Vec<u8>],
        policy: &Policy,
        on_authenticated: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<Record> {
        if keys.len() != self.contexts.len() {
            return Err(Declined("a key for each context is needed"));
        }
        unprotect::run(self, keys, policy, on_authenticated)
    }

    /// The SOAP Envelope namespace.
    pub fn soap(&self) -> &'static str {
        self.soap
    }
}

#[cfg(test)]
mod tests;

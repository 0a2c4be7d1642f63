//! The output writer of the protected envelope and the plaintexts of encryption, over the core's tree.
//!
//! `etree.tostring(child)` of a Body child (the Python path's plaintext of Body content encryption) or of an
//! encrypted header declares on the child every namespace in scope there (lxml's `_copyParentNamespaces`);
//! [`write_detached`] writes the same declarations, so the plaintext reads the same in any context.

use super::envelope::{element, Decline, Envelope};
use super::text;
use crate::crypto::b64encode_into_bytes;
use crate::dom::{Document, ElementData, Name, NodeId, NodeKind, XmlStr};
use crate::write_node;
use crate::xmltext::{write_attribute_value, write_text};

fn write_qname(out: &mut Vec<u8>, name: &Name) {
    if !name.prefix.is_empty() {
        out.extend_from_slice(name.prefix.as_bytes());
        out.push(b':');
    }
    out.extend_from_slice(name.local.as_bytes());
}

fn write_declaration(out: &mut Vec<u8>, prefix: &str, uri: &str) {
    out.extend_from_slice(b" xmlns");
    if !prefix.is_empty() {
        out.push(b':');
        out.extend_from_slice(prefix.as_bytes());
    }
    out.extend_from_slice(b"=\"");
    write_attribute_value(out, uri);
    out.push(b'"');
}

fn add<'d>(decls: &mut Vec<(&'d str, &'d str)>, prefix: &'d str, uri: &'d str) {
    if !decls.iter().any(|(p, _)| *p == prefix) {
        decls.push((prefix, uri));
    }
}

/// A start tag with these declarations, then the element's attributes (as `write_node` writes them).
fn write_start(out: &mut Vec<u8>, e: &ElementData, decls: &[(&str, &str)]) {
    out.push(b'<');
    write_qname(out, &e.name);
    for (p, uri) in decls {
        write_declaration(out, p, uri);
    }
    for a in &e.attributes {
        out.push(b' ');
        write_qname(out, &a.name);
        out.extend_from_slice(b"=\"");
        write_attribute_value(out, &a.value);
        out.push(b'"');
    }
    out.push(b'>');
}

fn write_end(out: &mut Vec<u8>, e: &ElementData) {
    out.extend_from_slice(b"</");
    write_qname(out, &e.name);
    out.push(b'>');
}

/// Element `id` as `etree.tostring` writes an element that is not the document element
/// (`_copyParentNamespaces` over libxml2's `xmlCopyNode`): its own declarations, then its own namespace
/// and its attributes' when not declared on it, then every ancestor's declarations, nearest first, for the
/// prefixes not yet declared.  Equivalent to lxml's bytes: same elements, attributes, text and namespace
/// bindings (the order of the declarations may differ where lxml stripped a redundant one).
pub(crate) fn write_detached(
    envelope: &Envelope,
    doc: &Document,
    id: NodeId,
    out: &mut Vec<u8>,
) -> Result<(), Decline> {
    let e = element(doc, id)?;
    let mut decls: Vec<(&str, &str)> = envelope.declarations(doc, id);
    if !e.name.ns.is_empty() {
        add(&mut decls, &e.name.prefix, &e.name.ns);
    }
    for a in &e.attributes {
        if !a.name.ns.is_empty() && a.name.prefix != "xml" {
            add(&mut decls, &a.name.prefix, &a.name.ns);
        }
    }
    let mut ancestor = doc.parent(id);
    while let Some(n) = ancestor {
        for (p, uri) in envelope.declarations(doc, n) {
            add(&mut decls, p, uri);
        }
        ancestor = doc.parent(n);
    }
    write_start(out, e, &decls);
    crate::c14n::write_nodes(doc, &e.children, out);
    write_end(out, e);
    Ok(())
}

/// The plaintext of `Type=#Content` encryption of the Body (`xmlenc.content_bytes`): its text and children,
/// each child element written by [`write_detached`] (so every prefix it uses is declared on it; a receiver
/// parses it in the Body's context, XML-Enc 1.0 section 4.5, and reads the same infoset either way).
/// The plaintext follows `room` zero bytes, where the cipher writes its IV ([`Cipher::encrypt_buffer`]:
/// the plaintext is encrypted where it is written).
///
/// [`Cipher::encrypt_buffer`]: crate::crypto::Cipher::encrypt_buffer
pub(crate) fn content_bytes(
    envelope: &Envelope,
    doc: &Document,
    parent: NodeId,
    room: usize,
) -> Result<Vec<u8>, Decline> {
    // the IV, the plaintext (no longer than the envelope) and the CBC padding or the GCM tag
    let mut out = Vec::with_capacity(room + envelope.size + 16);
    out.resize(room, 0);
    for (i, child) in doc.children(parent).iter().enumerate() {
        match &doc.node(*child).kind {
            NodeKind::Text(t) => {
                // `_escape(parent.text)` leaves CR as it is, which a parser then reads as LF.
                if i == 0 && t.contains('\r') {
                    return Err("a character reference to CR at the start of the Body");
                }
                write_text(&mut out, t);
            }
            NodeKind::Element(_) => write_detached(envelope, doc, *child, &mut out)?,
            NodeKind::Pi { .. } => write_node(doc, *child, &mut out),
        }
    }
    Ok(out)
}

/// The plaintext of `Type=#Element` encryption of a header block (`etree.tostring(header)`): the element
/// and its tail, the text up to the next sibling that is not text.
pub(crate) fn element_bytes(
    envelope: &Envelope,
    doc: &Document,
    id: NodeId,
) -> Result<Vec<u8>, Decline> {
    let mut out = Vec::new();
    write_detached(envelope, doc, id, &mut out)?;
    let parent = doc.parent(id).ok_or("detached")?;
    let siblings = doc.children(parent);
    let at = siblings.iter().position(|c| *c == id).ok_or("detached")?;
    for next in siblings.get(at + 1..).unwrap_or(&[]) {
        match &doc.node(*next).kind {
            NodeKind::Text(t) => write_text(&mut out, t),
            _ => break,
        }
    }
    Ok(out)
}

/// What replaces parts of the envelope in the output.
pub(crate) struct Output<'a> {
    /// the whole `wsse:Security` element
    pub security: &'a str,
    /// header blocks replaced by their EncryptedData
    pub headers: &'a [(NodeId, String)],
    /// the Body's content replaced by its EncryptedData
    /// (the EncryptedData up to its cipher value, the cipher value): the writer base64-encodes the value
    /// straight into the output and closes the element ([`text::ENCRYPTED_DATA_TAIL`])
    pub body: Option<(&'a str, &'a [u8])>,
}

/// The protected envelope: the Envelope with `xmlns:u` when added, the Security header first in the
/// Header (after its leading text, as lxml's `insert(0, ...)` puts it), the replacements in place, every
/// other node as [`write_node`] writes it.
pub(crate) fn write(
    envelope: &Envelope,
    doc: &Document,
    output: &Output<'_>,
) -> Result<Vec<u8>, Decline> {
    let mut out = Vec::with_capacity(
        envelope.size
            + output.security.len()
            + output.body.map_or(0, |(head, value)| {
                head.len() + value.len().div_ceil(3) * 4 + text::ENCRYPTED_DATA_TAIL.len()
            })
            + output.headers.iter().map(|(_, t)| t.len()).sum::<usize>(),
    );
    let root = element(doc, envelope.root)?;
    write_start(&mut out, root, &envelope.declarations(doc, envelope.root));
    for child in &root.children {
        if *child == envelope.body && envelope.header.is_none() {
            let name = Name {
                prefix: root.name.prefix.clone(),
                local: "Header".into(),
                ns: XmlStr::default(),
            };
            out.push(b'<');
            write_qname(&mut out, &name);
            out.push(b'>');
            out.extend_from_slice(output.security.as_bytes());
            out.extend_from_slice(b"</");
            write_qname(&mut out, &name);
            out.push(b'>');
        }
        if Some(*child) == envelope.header {
            let header = element(doc, *child)?;
            write_start(&mut out, header, &envelope.declarations(doc, *child));
            let mut security_written = false;
            for block in &header.children {
                let is_text = matches!(doc.node(*block).kind, NodeKind::Text(_));
                if !is_text && !security_written {
                    out.extend_from_slice(output.security.as_bytes());
                    security_written = true;
                }
                match output.headers.iter().find(|(id, _)| id == block) {
                    Some((_, text)) => out.extend_from_slice(text.as_bytes()),
                    None => write_node(doc, *block, &mut out),
                }
            }
            if !security_written {
                out.extend_from_slice(output.security.as_bytes());
            }
            write_end(&mut out, header);
        } else if *child == envelope.body {
            let body = element(doc, *child)?;
            match output.body {
                Some((head, value)) => {
                    write_start(&mut out, body, &envelope.declarations(doc, *child));
                    out.extend_from_slice(head.as_bytes());
                    b64encode_into_bytes(value, &mut out);
                    out.extend_from_slice(text::ENCRYPTED_DATA_TAIL.as_bytes());
                    write_end(&mut out, body);
                }
                None => write_node(doc, *child, &mut out),
            }
        } else {
            write_node(doc, *child, &mut out);
        }
    }
    write_end(&mut out, root);
    Ok(out)
}

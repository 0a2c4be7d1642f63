//! What an accepted message gives the glue (docs/core.md, "the record `verify` returns"): the envelope as the
//! core writes it, without its Security header, decrypted, every signed part written as exactly the
//! exclusive-c14n bytes whose digest was verified (docs/core.md, point 2), and what was proven about it.
//!
//! Two kinds of signed part were not digested as they are written, and are canonicalised again, their
//! digest in [`Record::digests`] computed here over the bytes written: a part whose content was decrypted
//! after its digest was verified (encrypt-before-sign: the Body digested with its EncryptedData, then
//! decrypted), and the element a signed EncryptedData held (WSS 1.1 section 9, an encrypted header signed
//! in its encrypted form).  The Python path counts both as signed (`HeaderProcessor.decrypt`: the signer
//! encrypted them under its own key).  Every other signed part is written as the very bytes digested.

use super::unprotect::Walk;
use super::xml::{self, clark};
use super::{Declined, Result, XENC};
use crate::dom::{Document, NodeId};

/// A signed part of the message: the Body, the i-th header block of the output, the i-th signed child of
/// the Security header (in [`Record::security_parts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Body,
    Header(usize),
    Security(usize),
    /// the message signature, decrypted (`sp:EncryptSignature`): only in [`Record::decryption`]
    Signature,
}

/// The InclusiveNamespaces PrefixList a canonical form was made with (None: no PrefixList).
pub type PrefixList = Option<Vec<String>>;
/// One digest of the record: (part, the id its reference names, digest method, digest value, PrefixList).
pub type DigestEntry = (Part, String, &'static str, Vec<u8>, PrefixList);
/// Where a part's verified canonical bytes are, its DigestValue and the PrefixList they were made with.
type VerifiedBytes = (std::ops::Range<usize>, Vec<u8>, PrefixList);

/// The record of an accepted message (docs/core.md).
#[derive(Debug, Clone, Default)]
pub struct Record {
    pub output: Vec<u8>,
    pub soap: &'static str,
    /// (Clark name, signed, encrypted) of each header block of the output
    pub headers: Vec<(String, bool, bool)>,
    /// (signed, encrypted)
    pub body: (bool, bool),
    /// (part, the id its reference names, digest method, digest value, the InclusiveNamespaces PrefixList
    /// of its canonical form), in reference order
    pub digests: Vec<DigestEntry>,
    pub security_parts: Vec<(String, Vec<u8>)>,
    /// (method, digest of the first reference, value, the Signature's canonical XML)
    pub signature: Option<(&'static str, &'static str, Vec<u8>, Vec<u8>)>,
    /// (context index, derived)
    pub signature_key: Option<(usize, bool)>,
    /// (part, context index, derived, algorithm) of each decryption, in order
    pub decryption: Vec<(Part, usize, bool, &'static str)>,
    pub confirmations: Vec<(Option<Vec<u8>>, bool)>,
    pub sct_ids: Vec<(String, String)>,
    pub first_cipher_value: Option<Vec<u8>>,
    pub derivation: Option<&'static str>,
    /// the signature covers the Security header's wsu:Timestamp
    pub timestamp_signed: bool,
    /// what the glue reads of each header block without a tree, aligned with `headers`: its mustUnderstand
    /// and role (SOAP 1.1: actor) attributes of the message's SOAP version as written, and its text before
    /// its first child element or processing instruction (lxml's `text`, None when empty)
    pub header_facts: Vec<HeaderFacts>,
    /// the Clark names of the Body's child elements
    pub payload_tags: Vec<String>,
    /// the verified tree and its Body, for [`Record::payload_xml`]
    pub tree: Option<(Document, NodeId)>,
}

/// (mustUnderstand, role, text) of a header block (see [`Record::header_facts`]).
pub type HeaderFacts = (Option<String>, Option<String>, Option<String>);

impl Record {
    /// Each child element of the verified Body on its own, in its Canonical XML with every namespace in
    /// scope declared (`crate::c14n::inclusive::standalone`): the payload as verified, for an application
    /// that answers or forwards it without reading it into a tree.
    pub fn payload_xml(&self) -> Vec<Vec<u8>> {
        let Some((doc, body)) = &self.tree else {
            return Vec::new();
        };
        doc.child_elements(*body)
            .map(|child| {
                let mut out = Vec::new();
                crate::c14n::inclusive::standalone(doc, child, &mut out);
                out
            })
            .collect()
    }
}

/// The mustUnderstand and role attributes of header block `block` in a `soap` envelope, and its text.
fn header_facts(doc: &Document, block: NodeId, soap: &str) -> HeaderFacts {
    let role = if soap == super::SOAP11 {
        "actor"
    } else {
        "role"
    };
    let attribute = |local: &str| {
        doc.element(block).and_then(|e| {
            e.attributes
                .iter()
                .find(|a| a.name.ns == soap && a.name.local == local)
                .map(|a| a.value.clone())
        })
    };
    // lxml's `text`: the text nodes before the first other child, joined
    let mut text = String::new();
    for child in doc.children(block) {
        match doc.nodes().get(*child).map(|n| &n.kind) {
            Some(crate::dom::NodeKind::Text(t)) => text.push_str(t),
            _ => break,
        }
    }
    (
        attribute("mustUnderstand"),
        attribute(role),
        (!text.is_empty()).then_some(text),
    )
}

/// How a signed part is written: the verified bytes (a range of the walk's buffer), or canonicalised now
/// (its content was decrypted after its digest was verified, or it is plaintext a signed EncryptedData held).
#[derive(Debug, Clone)]
struct SignedPart {
    id: String,
    node: NodeId,
    digest: crate::crypto::Digest,
    /// where its verified canonical bytes are, its DigestValue and the PrefixList they were made with
    verified: Option<VerifiedBytes>,
}

fn is_within(doc: &Document, node: NodeId, ancestor: NodeId) -> bool {
    let mut current = Some(node);
    while let Some(n) = current {
        if n == ancestor {
            return true;
        }
        current = doc.parent(n);
    }
    false
}

impl Walk<'_> {
    /// After the walk: what must hold whatever the requirements, then the output and the record.
    pub(super) fn finish(mut self) -> Result<Record> {
        let (doc, body, header, security) =
            (&self.m.doc, self.m.body, self.m.header, self.m.security);
        // `Receiver._unprotect`: an EncryptedData left anywhere was not decrypted.
        let mut stack = vec![doc.root()];
        while let Some(n) = stack.pop() {
            if doc.is(n, XENC, "EncryptedData") {
                return Err(Declined("an EncryptedData was not decrypted"));
            }
            stack.extend(doc.child_elements(n));
        }
        // Nothing verified (no signature, nothing decrypted): only a transport-protected receiver accepts
        // that (`Requirements.transport_protected`), and no context key is involved; the Python path decides.
        if self.signature.is_none() && self.decrypted.is_empty() {
            return Err(Declined("the message is neither signed nor encrypted"));
        }
        let mut record = Record {
            soap: self.m.soap,
            sct_ids: std::mem::take(&mut self.sct_ids),
            first_cipher_value: self.first_cipher_value.take(),
            derivation: self.derivation,
            ..Record::default()
        };

        // What the signature covers (`dsig` references, and the plaintext of signed EncryptedData), each at a
        // place a part of the message stands (`unprotect._check_signed_position`), else declined.
        let mut signed: Vec<SignedPart> = Vec::new();
        if let Some(sig) = &self.signature {
            if let Some(t) = self.decryption_token {
                if t != sig.key.context {
                    return Err(Declined(
                        "parts encrypted under another token than the signer's",
                    ));
                }
            }
            for (i, r) in sig.references.iter().enumerate() {
                let dirty = self
                    .decrypted
                    .get(r.decryptions_before..)
                    .unwrap_or(&[])
                    .iter()
                    .any(|d| is_within(doc, d.parent, r.target));
                match doc.parent(r.target) {
                    Some(_) => signed.push(SignedPart {
                        id: r.id.clone(),
                        node: r.target,
                        digest: r.digest,
                        verified: (!dirty)
                            .then(|| (r.bytes.clone(), r.value.clone(), r.prefixes.clone())),
                    }),
                    None => {
                        // an EncryptedData decrypted since: its plaintext element is what counts as signed
                        let held = self
                            .decrypted
                            .iter()
                            .find(|d| d.signed_by == Some(i) && d.part != d.parent)
                            .ok_or(Declined(
                                "a signed EncryptedData whose plaintext is not an element",
                            ))?;
                        signed.push(SignedPart {
                            id: r.id.clone(),
                            node: held.part,
                            digest: r.digest,
                            verified: None,
                        });
                    }
                }
            }
            record.signature_key = Some((sig.key.context, sig.key.derived));
            let mut signature_xml = Vec::new();
            xml::c14n_into(doc, sig.element, None, &mut signature_xml)?;
            let first = sig
                .references
                .first()
                .map_or(crate::crypto::SHA1_URI, |r| r.digest.uri());
            record.signature = Some((sig.method.uri(), first, sig.value.clone(), signature_xml));
        }
        for part in &signed {
            let parent = doc.parent(part.node);
            let wsa = super::WSA_NAMESPACES.contains(&xml::namespace(doc, part.node));
            if part.node != body && parent != Some(header) && parent != Some(security) {
                return Err(Declined(
                    "a signed element outside the Body, the header blocks and the Security header",
                ));
            }
            // a signed WS-Addressing header moved into the Security header: the Python path decides
            // (`compiled_unprotect` declined it when it read the record; deciding here costs nothing)
            if wsa && parent != Some(header) {
                return Err(Declined(
                    "a signed WS-Addressing header outside the SOAP Header",
                ));
            }
            if parent == Some(security) && doc.is(part.node, super::WSU, "Timestamp") {
                record.timestamp_signed = true;
            }
        }
        let is_signed = |n: NodeId| signed.iter().find(|p| p.node == n);
        let encrypted: std::collections::HashSet<NodeId> =
            self.decrypted.iter().map(|d| d.part).collect();
        let is_encrypted = |n: NodeId| encrypted.contains(&n);
        record.confirmations = self
            .confirmations
            .iter()
            .map(|(v, el)| (v.clone(), is_signed(*el).is_some()))
            .collect();

        let mut out = Vec::with_capacity(self.m.size);
        // where each signed part went and the digest of what was written, then the record in reference order
        #[allow(clippy::type_complexity)]
        let mut written: std::collections::HashMap<NodeId, (Part, Vec<u8>, PrefixList)> =
            std::collections::HashMap::new();
        let mut places: std::collections::HashMap<NodeId, Part> = std::collections::HashMap::new();
        places.insert(body, Part::Body);
        if let Some(sig) = &self.signature {
            places.insert(sig.element, Part::Signature);
        }
        // A part of the Security header is handed over as its canonical bytes (the glue parses it on its own,
        // so it must declare what it uses); a part of the envelope is written by the core's serializer with the
        // namespace declarations it has in the message (exclusive c14n drops those only QName-valued content
        // uses, a SOAP fault's detail say), and its digest, with the PrefixList it was made with, lets the
        // glue check lxml's reading of it against what was verified (docs/core.md, point 4).
        let digest_of =
            |part: &SignedPart, scratch: &mut Vec<u8>| -> Result<(Vec<u8>, PrefixList)> {
                match &part.verified {
                    Some((_, value, prefixes)) => Ok((value.clone(), prefixes.clone())),
                    None => {
                        scratch.clear();
                        xml::c14n_into(doc, part.node, None, scratch)?;
                        Ok((part.digest.digest(scratch), None))
                    }
                }
            };
        let mut scratch = Vec::new();
        // the output is written in its canonical form (Canonical XML 1.0 of the whole document), so that the
        // glue checks lxml's reading of all of it at once (`crate::c14n::inclusive`)
        let mut scope = crate::c14n::inclusive::Scope::default();

        for part in signed
            .iter()
            .filter(|p| doc.parent(p.node) == Some(security))
        {
            let mut bytes = Vec::new();
            let (value, prefixes) = match &part.verified {
                Some((range, value, prefixes)) => {
                    bytes.extend_from_slice(
                        self.parts
                            .get(range.clone())
                            .ok_or(Declined("canonical bytes"))?,
                    );
                    (value.clone(), prefixes.clone())
                }
                None => {
                    xml::c14n_into(doc, part.node, None, &mut bytes)?;
                    (part.digest.digest(&bytes), None)
                }
            };
            written.insert(
                part.node,
                (Part::Security(record.security_parts.len()), value, prefixes),
            );
            record.security_parts.push((clark(doc, part.node), bytes));
        }
        let envelope = self.m.envelope;
        let element = |n: NodeId| doc.element(n).ok_or(Declined("not an element"));
        let envelope_mark = scope.start(element(envelope)?, &mut out);
        for &child in doc.children(envelope) {
            if child == header {
                let header_mark = scope.start(element(header)?, &mut out);
                for &block in doc.children(header) {
                    if block == security {
                        continue;
                    }
                    if doc.element(block).is_none() {
                        scope.subtree(doc, block, &mut out);
                        continue;
                    }
                    let index = record.headers.len();
                    places.insert(block, Part::Header(index));
                    match is_signed(block) {
                        Some(part) => {
                            scope.subtree(doc, part.node, &mut out);
                            let (value, prefixes) = digest_of(part, &mut scratch)?;
                            written.insert(part.node, (Part::Header(index), value, prefixes));
                        }
                        None => scope.subtree(doc, block, &mut out),
                    }
                    record.headers.push((
                        clark(doc, block),
                        is_signed(block).is_some(),
                        is_encrypted(block),
                    ));
                    record
                        .header_facts
                        .push(header_facts(doc, block, self.m.soap));
                }
                crate::c14n::write_end(element(header)?, &mut out);
                scope.leave(header_mark);
            } else if child == body {
                match is_signed(body) {
                    Some(part) => {
                        scope.subtree(doc, part.node, &mut out);
                        let (value, prefixes) = digest_of(part, &mut scratch)?;
                        written.insert(body, (Part::Body, value, prefixes));
                    }
                    None => scope.subtree(doc, body, &mut out),
                }
                record.body = (is_signed(body).is_some(), is_encrypted(body));
                record.payload_tags = doc.child_elements(body).map(|c| clark(doc, c)).collect();
            } else {
                scope.subtree(doc, child, &mut out);
            }
        }
        crate::c14n::write_end(element(envelope)?, &mut out);
        scope.leave(envelope_mark);
        record.output = out;
        for part in &signed {
            let (place, value, prefixes) = written
                .remove(&part.node)
                .ok_or(Declined("a signed part was not written"))?;
            record
                .digests
                .push((place, part.id.clone(), part.digest.uri(), value, prefixes));
        }
        record.decryption = self
            .decrypted
            .iter()
            .map(|d| {
                let place = *places.get(&d.part).ok_or(Declined(
                    "a decrypted part outside the Body, the header blocks and the signature",
                ))?;
                Ok((place, d.key.context, d.key.derived, d.cipher.uri()))
            })
            .collect::<Result<Vec<_>>>()?;
        record.tree = Some((self.m.doc, body));
        Ok(record)
    }
}

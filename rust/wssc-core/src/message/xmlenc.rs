//! XML Encryption of SOAP parts as WSS 1.1 section 9 profiles it (`wssc.security.xmlenc` and
//! `HeaderProcessor.decrypt`): an `xenc:EncryptedData` (XML-Enc 1.0 section 3.4) replaced by the nodes its
//! plaintext parses into in the namespace context of its parent (section 4.5).

use super::tokens;
use super::unprotect::{Decryption, Walk};
use super::xml::{self, elements, lxml_len};
use super::{Declined, Result, DS, WSSE, XENC, XENC_CONTENT, XENC_ELEMENT};
use crate::crypto::Cipher;
use crate::dom::{NodeId, NodeKind};

/// `xmlenc.parse_encrypted_data`: EncryptionMethod, KeyInfo?, CipherData, in order and nothing else.
struct EncryptedData {
    content: bool,
    method: String,
    key_reference: Option<tokens::Str>,
    cipher_value: Vec<u8>,
}

fn parse_encrypted_data(w: &Walk<'_>, ed: NodeId) -> Result<EncryptedData> {
    let doc = &w.m.doc;
    let children = elements(doc, ed);
    let (method_el, key_info, cipher_data) = match children.as_slice() {
        [m, c] => (*m, None, *c),
        [m, k, c] if doc.is(*k, DS, "KeyInfo") => (*m, Some(*k), *c),
        _ => {
            return Err(Declined(
                "EncryptedData must hold EncryptionMethod, KeyInfo?, CipherData",
            ))
        }
    };
    if !doc.is(method_el, XENC, "EncryptionMethod") || !doc.is(cipher_data, XENC, "CipherData") {
        return Err(Declined(
            "EncryptedData must hold EncryptionMethod, KeyInfo?, CipherData",
        ));
    }
    let method = doc.attribute(method_el, "", "Algorithm").unwrap_or("");
    if method.is_empty() || lxml_len(doc, method_el) != 0 {
        return Err(Declined(
            "an EncryptionMethod without Algorithm or with parameters",
        ));
    }
    let key_reference = match key_info {
        None => None,
        Some(k) => {
            // the Python path reads the one STR and ignores the rest; anything beside it is declined
            let [str_el] = elements(doc, k)[..] else {
                return Err(Declined(
                    "EncryptedData KeyInfo other than one SecurityTokenReference",
                ));
            };
            if !doc.is(str_el, WSSE, "SecurityTokenReference") {
                return Err(Declined(
                    "EncryptedData KeyInfo other than one SecurityTokenReference",
                ));
            }
            Some(tokens::parse_str(doc, str_el)?)
        }
    };
    let [value_el] = elements(doc, cipher_data)[..] else {
        return Err(Declined("CipherData other than one CipherValue"));
    };
    if !doc.is(value_el, XENC, "CipherValue") {
        return Err(Declined("CipherData other than one CipherValue"));
    }
    let content = match doc.attribute(ed, "", "Type") {
        Some(XENC_CONTENT) => true,
        Some(XENC_ELEMENT) => false,
        _ => {
            return Err(Declined(
                "an EncryptedData Type other than Element or Content",
            ))
        }
    };
    Ok(EncryptedData {
        content,
        method: method.to_owned(),
        key_reference,
        cipher_value: xml::b64_text(doc, value_el)?,
    })
}

impl Walk<'_> {
    /// Decrypt `ed` in place (`HeaderProcessor.decrypt` then `xmlenc.decrypt`); returns the element it held
    /// (Type Element) or its parent (Type Content).
    pub(super) fn decrypt(
        &mut self,
        ed: NodeId,
        key: Option<super::unprotect::Key>,
    ) -> Result<NodeId> {
        let info = parse_encrypted_data(self, ed)?;
        let key = match (&info.key_reference, key) {
            (None, Some(k)) => k,
            (r, _) => self.resolve(r.as_ref(), true)?,
        };
        if let Some(allowed) = &self.policy.ciphers {
            if !allowed.contains(&info.method) {
                return Err(Declined("an encryption method the suite does not allow"));
            }
        }
        let cipher = Cipher::from_uri(&info.method)
            .ok_or(Declined("an encryption method outside the subset"))?;
        self.bind_decryption_key(&key)?;
        let parent = self
            .m
            .doc
            .parent(ed)
            .ok_or(Declined("EncryptedData without a parent"))?;
        let security = parent == self.m.security;
        if info.content
            && (security
                || lxml_len(&self.m.doc, parent) != 1
                || !xml::only_space_text(&self.m.doc, parent))
        {
            // Content encryption replaces the whole content; anything beside it was added in clear.
            return Err(Declined(
                "EncryptedData of type Content is not the only content of its parent",
            ));
        }
        if !info.content && parent == self.m.body {
            return Err(Declined("an encrypted element in the Body"));
        }
        self.unindex(ed);
        if let Some(id) = self.m.doc.attribute(ed, "", "Id").filter(|v| !v.is_empty()) {
            self.decrypted_ids.insert(id.to_owned());
        }
        if self.first_cipher_value.is_none() {
            self.first_cipher_value = Some(info.cipher_value.clone());
        }
        let (plaintext, padding_ok) = cipher
            .decrypt_unchecked(&key.secret, &info.cipher_value)
            .map_err(|_| Declined("decryption failed"))?;
        // Parsed whatever the padding said, then refused: good and bad padding cost the same (no timing
        // oracle, Jager and Somorovsky 2011).
        let parsed = xml::refuse_fragment_declarations(&plaintext).and_then(|()| {
            let limits = crate::Limits {
                max_document_bytes: self.m.limits.max_message_bytes,
                max_depth: self.m.limits.max_xml_depth,
                ..crate::Limits::default()
            };
            self.m
                .doc
                .parse_fragment(&plaintext, parent, &limits)
                .map_err(|_| Declined("decryption failed"))
        });
        let nodes = parsed?;
        if !padding_ok {
            return Err(Declined("decryption failed"));
        }
        let new_elements: Vec<NodeId> = nodes
            .iter()
            .copied()
            .filter(|n| self.m.doc.element(*n).is_some())
            .collect();
        let others_odd = nodes
            .iter()
            .any(|n| match self.m.doc.nodes().get(*n).map(|x| &x.kind) {
                Some(NodeKind::Text(t)) => !info.content && !t.chars().all(xml::is_python_space),
                Some(NodeKind::Element(_)) => false,
                _ => true, // a processing instruction among the decrypted parts: odd, declined
            });
        if others_odd || (!info.content && new_elements.len() != 1) {
            return Err(Declined("decryption failed"));
        }
        self.m.doc.replace(ed, &nodes);
        for node in &new_elements {
            self.index_node(*node)?;
        }
        // Encrypt-before-sign: the signature covered the EncryptedData under the same key, so the signer
        // chose what it held (`HeaderProcessor.decrypt`'s signed_plaintext).
        let signed_by = self.signature.as_ref().and_then(|s| {
            (s.key.context == key.context)
                .then(|| s.references.iter().position(|r| r.target == ed))
                .flatten()
        });
        let held = if info.content {
            parent
        } else {
            new_elements
                .first()
                .copied()
                .ok_or(Declined("decryption failed"))?
        };
        if !info.content {
            self.decrypted_elements.insert(held);
        }
        self.decrypted.push(Decryption {
            part: held,
            parent,
            cipher,
            key,
            signed_by,
        });
        Ok(held)
    }
}

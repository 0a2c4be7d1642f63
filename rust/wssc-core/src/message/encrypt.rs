//! Encryption of the Body content and the listed header blocks (XML-Enc 1.0 section 4.1; WSS 1.1 section
//! 9), as `protect.encrypt_parts` does it, and the canonical forms a signature over the EncryptedData needs
//! (`sp:EncryptBeforeSigning`).

use super::options::Declined;
use super::protect::{clark, Key, Signed, State};
use super::text;
use super::writer::{content_bytes, element_bytes};
use crate::crypto::Cipher;
use crate::dom::NodeId;

impl State<'_> {
    /// `protect.encrypt_parts`: the listed headers, then the Body content.  `signed` when a signature will
    /// cover them (encrypt-before-sign): an encrypted header's reference moves to its EncryptedData and the
    /// Body's canonical form is the Body holding its EncryptedData.
    pub(super) fn encrypt_parts(
        &mut self,
        cipher: Cipher,
        key: &Key,
        signed: Option<&mut Vec<(String, Signed)>>,
    ) -> Result<(), Declined> {
        let wanted = &self.input.options.encrypted_headers;
        let in_tree = signed.is_some();
        let canonical_info = match (&key.canonical_info, in_tree) {
            (Some(c), _) => Some(c.clone()),
            (None, true) => Some(canonical_text(&key.info)?),
            (None, false) => None,
        };
        let mut signed = signed;
        if let Some(header) = self.env.header {
            let blocks: Vec<NodeId> = self.doc.child_elements(header).collect();
            for block in blocks {
                if !wanted.contains(&clark(&self.doc, block)) {
                    continue;
                }
                let ed_id = self.ids.next("ED");
                let plaintext = element_bytes(&self.env, &self.doc, block)?;
                let iv = self.randomness.iv()?;
                let value = cipher
                    .encrypt_with_iv(&key.key, &iv, &plaintext)
                    .map_err(|_| Declined("encryption failed"))?;
                let wire = text::encrypted_data(
                    &ed_id,
                    text::XENC_ELEMENT,
                    cipher.uri(),
                    &key.info,
                    &value,
                    false,
                );
                if let (Some(signed), Some(info)) = (signed.as_deref_mut(), &canonical_info) {
                    let canonical = text::encrypted_data(
                        &ed_id,
                        text::XENC_ELEMENT,
                        cipher.uri(),
                        info,
                        &value,
                        true,
                    );
                    for entry in signed.iter_mut() {
                        if matches!(entry.1, Signed::Header(n) if n == block) {
                            *entry = (ed_id.clone(), Signed::Canonical(canonical.clone()));
                        }
                    }
                }
                self.encrypted_headers.push((block, wire));
                self.data_refs.push(ed_id);
            }
        }
        let ed_id = self.ids.next("ED");
        let body = self.env.body;
        let buffer = content_bytes(&self.env, &self.doc, body, cipher.iv_len())?;
        let iv = self.randomness.iv()?;
        let value = cipher
            .encrypt_buffer(&key.key, &iv, buffer)
            .map_err(|_| Declined("encryption failed"))?;
        let head = text::encrypted_data_head(
            &ed_id,
            text::XENC_CONTENT,
            cipher.uri(),
            &key.info,
            false,
            0,
        );
        if let (true, Some(info)) = (in_tree, &canonical_info) {
            let canonical_ed =
                text::encrypted_data(&ed_id, text::XENC_CONTENT, cipher.uri(), info, &value, true);
            self.body_canonical = Some(self.body_with(&canonical_ed)?);
        }
        self.encrypted_body = Some((head, value));
        self.data_refs.push(ed_id);
        Ok(())
    }

    /// The canonical form of the Body holding only `canonical_ed`: the canonical empty Body with the
    /// EncryptedData spliced before its end tag.  Exclusive c14n writes the same EncryptedData inside the
    /// Body as alone unless the Body's start tag declares one of the prefixes it declares (then declined).
    fn body_with(&mut self, canonical_ed: &str) -> Result<Vec<u8>, Declined> {
        let body = self.env.body;
        let children: Vec<NodeId> = self.doc.children(body).to_vec();
        for child in children {
            self.doc.detach(child);
        }
        let e = self.doc.element(body).ok_or("no Body")?;
        let end = format!("</{}>", e.name.qname());
        let mut prefixes: Vec<&str> = vec![e.name.prefix.as_str()];
        prefixes.extend(e.attributes.iter().map(|a| a.name.prefix.as_str()));
        if prefixes
            .iter()
            .any(|p| !p.is_empty() && canonical_ed.contains(&format!(" xmlns:{p}=\"")))
        {
            return Err(Declined("a Body prefix the EncryptedData declares"));
        }
        let mut canonical = self.canonical(body);
        let at = canonical
            .len()
            .checked_sub(end.len())
            .ok_or("canonical Body")?;
        if canonical.get(at..) != Some(end.as_bytes()) {
            return Err(Declined("canonical Body"));
        }
        let tail = canonical.split_off(at);
        canonical.extend_from_slice(canonical_ed.as_bytes());
        canonical.extend_from_slice(&tail);
        Ok(canonical)
    }
}

/// The exclusive c14n of a self-contained XML text (the token reference the caller wrote).
fn canonical_text(xml: &str) -> Result<String, Declined> {
    let bytes = crate::exc_c14n(xml.as_bytes(), crate::Selector::DocumentElement, &[])
        .map_err(|_| Declined("token reference not canonicalised"))?;
    String::from_utf8(bytes).map_err(|_| Declined("token reference not canonicalised"))
}

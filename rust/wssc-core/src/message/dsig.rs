//! The message signature (XML-DSig 1.0 as WSS 1.1 section 8 and WS-I BSP 1.1 profile it; a port of
//! `wssc.security.dsig.verify` and `HeaderProcessor.verify` for HMAC signatures): exclusive c14n only,
//! same-document `#id` references to the indexed positions only, no transform but exclusive c14n,
//! HMACOutputLength refused (CVE-2009-0217), every digest charged to the message's budget.

use super::unprotect::{Verified, VerifiedRef, Walk};
use super::xml::{self, elements, lxml_len, only_child, required_child};
use super::{Declined, Result, DS, EXC_C14N, WSSE};
use crate::crypto::{ct_eq, Digest, Mac};
use crate::dom::NodeId;

impl Walk<'_> {
    /// Verify the message's one signature: the SignatureValue over SignedInfo first (then the sender is
    /// authenticated and what waited is decrypted), then every Reference.
    pub(super) fn verify_signature(&mut self, sig: NodeId) -> Result<()> {
        if self.signature.is_some() || self.m.limits.max_signatures < 1 {
            // an endorsing signature (WS-SP 1.2 section 8.3) is outside the subset; any other is refused
            return Err(Declined("a second signature"));
        }
        let doc = &self.m.doc;
        let signed_info = required_child(doc, sig, DS, "SignedInfo")?;
        let references: Vec<NodeId> = doc
            .child_elements(signed_info)
            .filter(|r| doc.is(*r, DS, "Reference"))
            .collect();
        if references.is_empty() || references.len() > self.m.limits.max_signature_references {
            return Err(Declined("no or too many signature references"));
        }
        if self.policy.encrypted_signature && !self.decrypted_elements.contains(&sig) {
            return Err(Declined("the message signature must be encrypted"));
        }
        let c14n_el = required_child(doc, signed_info, DS, "CanonicalizationMethod")?;
        if doc.attribute(c14n_el, "", "Algorithm") != Some(EXC_C14N) {
            return Err(Declined("canonicalization other than exclusive c14n"));
        }
        let method_el = required_child(doc, signed_info, DS, "SignatureMethod")?;
        let method_uri = doc.attribute(method_el, "", "Algorithm").unwrap_or("");
        if let Some(allowed) = &self.policy.signature_methods {
            if !allowed.iter().any(|a| a == method_uri) {
                return Err(Declined("a signature method the suite does not allow"));
            }
        }
        if lxml_len(doc, method_el) != 0 {
            return Err(Declined(
                "HMACOutputLength and other SignatureMethod parameters are refused",
            ));
        }
        let method =
            Mac::from_uri(method_uri).ok_or(Declined("a signature method outside the subset"))?;
        let value = xml::b64_text(doc, required_child(doc, sig, DS, "SignatureValue")?)?;
        let key_ref = match only_child(doc, sig, DS, "KeyInfo")? {
            None => None,
            Some(key_info) => {
                let [str_el] = elements(doc, key_info)[..] else {
                    return Err(Declined("ds:KeyInfo other than one SecurityTokenReference"));
                };
                if !doc.is(str_el, WSSE, "SecurityTokenReference") {
                    return Err(Declined("ds:KeyInfo other than one SecurityTokenReference"));
                }
                Some(super::tokens::parse_str(doc, str_el)?)
            }
        };
        let si_prefixes = xml::inclusive_prefixes(doc, c14n_el);
        let key = self.resolve(key_ref.as_ref(), true)?;

        let mut data = std::mem::take(&mut self.scratch);
        data.clear();
        xml::c14n_into(&self.m.doc, signed_info, si_prefixes.as_deref(), &mut data)?;
        self.spend(data.len())?;
        let good = method.verify(&key.secret, &data, &value);
        self.scratch = data;
        if !good {
            return Err(Declined("signature value mismatch"));
        }
        // Authenticated: the receiver checks the value against replays now, so that a captured message with
        // altered cipher text is refused before anything is decrypted (no padding oracle, no second query);
        // then the Body and headers that waited are decrypted, before the digests are computed.
        if !(self.on_authenticated)(&value) {
            return Err(Declined("refused once authenticated"));
        }
        self.signer = Some(key.clone());
        self.decrypt_deferred()?;

        let mut verified: Vec<VerifiedRef> = Vec::with_capacity(references.len());
        for reference in references {
            let r = self.verify_reference(reference, &verified)?;
            verified.push(r);
        }
        self.signature = Some(Verified {
            element: sig,
            method,
            value,
            key,
            references: verified,
        });
        Ok(())
    }

    /// One `ds:Reference` (XML-DSig 4.3.3): `#id` at an indexed position; Transforms? (exclusive c14n
    /// alone), DigestMethod, DigestValue, in this order and nothing else; each element digested once.
    fn verify_reference(
        &mut self,
        reference: NodeId,
        verified: &[VerifiedRef],
    ) -> Result<VerifiedRef> {
        let doc = &self.m.doc;
        let uri = doc.attribute(reference, "", "URI").unwrap_or("");
        let id = uri
            .strip_prefix('#')
            .filter(|i| !i.is_empty())
            .ok_or(Declined("a reference other than #id"))?;
        let id_owned = id.to_owned();
        let target = *self
            .m
            .ids
            .get(id)
            .ok_or(Declined("a signature reference to nothing"))?;
        let mut parts = elements(doc, reference);
        let mut prefixes = None;
        if parts.first().is_some_and(|t| doc.is(*t, DS, "Transforms")) {
            let transforms = parts.remove(0);
            let steps = elements(doc, transforms);
            match steps.as_slice() {
                [step]
                    if doc.is(*step, DS, "Transform")
                        && doc.attribute(*step, "", "Algorithm") == Some(EXC_C14N) =>
                {
                    prefixes = xml::inclusive_prefixes(doc, *step);
                }
                _ => return Err(Declined("a transform other than exclusive c14n")),
            }
        }
        let (method_el, value_el) = match parts.as_slice() {
            [m, v] if doc.is(*m, DS, "DigestMethod") && doc.is(*v, DS, "DigestValue") => (*m, *v),
            _ => return Err(Declined("malformed ds:Reference")),
        };
        let digest_uri = doc.attribute(method_el, "", "Algorithm").unwrap_or("");
        if let Some(allowed) = &self.policy.digests {
            if !allowed.iter().any(|a| a == digest_uri) {
                return Err(Declined("a digest method the suite does not allow"));
            }
        }
        let digest =
            Digest::from_uri(digest_uri).ok_or(Declined("a digest method outside the subset"))?;
        let expected = xml::b64_text(doc, value_el)?;
        if verified.iter().any(|v| v.target == target) {
            return Err(Declined("the same element is referenced twice"));
        }
        let start = self.parts.len();
        let mut parts_buf = std::mem::take(&mut self.parts);
        let written = xml::c14n_into(&self.m.doc, target, prefixes.as_deref(), &mut parts_buf);
        self.parts = parts_buf;
        written?;
        let bytes = start..self.parts.len();
        self.spend(bytes.len())?;
        let canonical = self
            .parts
            .get(bytes.clone())
            .ok_or(Declined("canonical bytes"))?;
        if !ct_eq(&digest.digest(canonical), &expected) {
            return Err(Declined("digest mismatch"));
        }
        Ok(VerifiedRef {
            id: id_owned,
            target,
            digest,
            value: expected,
            prefixes,
            bytes,
            decryptions_before: self.decrypted.len(),
        })
    }
}

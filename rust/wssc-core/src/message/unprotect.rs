//! The Security header walk (WSS 1.1 sections 5-10), a port of `wssc.security.unprotect._find_security` and
//! `wssc.security.header.HeaderProcessor` for the symmetric subset: document order, deferred decryption of
//! the Body and headers until the message signature's value verified, one message signature.

use std::collections::{HashMap, HashSet};

use super::tokens::{self, Dkt, Str, Target};
use super::xml;
use super::{
    ContextName, Declined, Incoming, Policy, Record, Result, DIGESTED_BYTES_ALLOWANCE, DS, WSSE,
    WSSE11, WSU, XENC,
};
use crate::crypto::{Cipher, Digest, Mac};
use crate::dom::NodeId;

/// A key and where it comes from (`token_keys.TokenKey` in the subset: every token is a context).
#[derive(Debug, Clone)]
pub(super) struct Key {
    pub secret: Vec<u8>,
    /// the index of its context in [`Incoming::contexts`] (the token `context:<Identifier>`)
    pub context: usize,
    pub derived: bool,
    pub depth: u8,
}

/// One verified `ds:Reference`: its target, digest method and value, and where its canonical bytes are.
#[derive(Debug, Clone)]
pub(super) struct VerifiedRef {
    /// the id the reference names (its URI without `#`)
    pub id: String,
    pub target: NodeId,
    pub digest: Digest,
    pub value: Vec<u8>,
    /// the InclusiveNamespaces PrefixList of its exclusive c14n transform
    pub prefixes: Option<Vec<String>>,
    pub bytes: std::ops::Range<usize>,
    /// how many decryptions had happened when it was digested (a later one inside it changes the part)
    pub decryptions_before: usize,
}

/// The message signature once verified (`dsig.VerifiedSignature`).
#[derive(Debug)]
pub(super) struct Verified {
    pub element: NodeId,
    pub method: Mac,
    pub value: Vec<u8>,
    pub key: Key,
    pub references: Vec<VerifiedRef>,
}

/// One decryption: the part whose content changed (the parent for Content, the new element for Element),
/// the parent the plaintext went into, the cipher, the key.
#[derive(Debug)]
pub(super) struct Decryption {
    pub part: NodeId,
    pub parent: NodeId,
    pub cipher: Cipher,
    pub key: Key,
    /// the reference (index in the signature's) that digested the EncryptedData, if any
    pub signed_by: Option<usize>,
}

/// The state of one walk (`HeaderProcessor` and `TokenKeys`).
pub(super) struct Walk<'a> {
    pub m: Incoming,
    pub keys: &'a [Vec<u8>],
    pub policy: &'a Policy,
    token_keys: HashMap<NodeId, Key>,
    in_progress: Vec<NodeId>,
    pub derivation: Option<&'static str>,
    pub sct_ids: Vec<(String, String)>,
    pub budget: i64,
    pub signature: Option<Verified>,
    pub signer: Option<Key>,
    pub decrypted: Vec<Decryption>,
    pub decrypted_elements: HashSet<NodeId>,
    pub decryption_token: Option<usize>,
    /// EncryptedData of the Body and headers waiting for the message signature, in the order listed
    deferred: Vec<NodeId>,
    deferred_set: HashSet<NodeId>,
    pub confirmations: Vec<(Option<Vec<u8>>, NodeId)>,
    pub decrypted_ids: HashSet<String>,
    pub first_cipher_value: Option<Vec<u8>>,
    /// the canonical bytes of every verified reference, one after the other
    pub parts: Vec<u8>,
    /// scratch buffer for SignedInfo's canonical form
    pub scratch: Vec<u8>,
    /// told the message signature's value as soon as it verified, before anything waiting is decrypted or
    /// digested (`HeaderProcessor.verify`'s `authenticated`: the receiver's replay check); false stops the walk
    pub on_authenticated: &'a mut dyn FnMut(&[u8]) -> bool,
}

/// Phase 2: the walk, then the output.
pub(super) fn run(
    m: Incoming,
    keys: &[Vec<u8>],
    policy: &Policy,
    on_authenticated: &mut dyn FnMut(&[u8]) -> bool,
) -> Result<Record> {
    let budget = m
        .limits
        .digested_bytes_per_message_byte
        .saturating_mul(i64::try_from(m.size).unwrap_or(i64::MAX))
        .saturating_add(DIGESTED_BYTES_ALLOWANCE);
    // the canonical bytes digested are about the message's size: reserved once, not regrown
    let m_size = m.size;
    let mut w = Walk {
        m,
        keys,
        policy,
        token_keys: HashMap::new(),
        in_progress: Vec::new(),
        derivation: None,
        sct_ids: Vec::new(),
        budget,
        signature: None,
        signer: None,
        decrypted: Vec::new(),
        decrypted_elements: HashSet::new(),
        decryption_token: None,
        deferred: Vec::new(),
        deferred_set: HashSet::new(),
        confirmations: Vec::new(),
        decrypted_ids: HashSet::new(),
        first_cipher_value: None,
        parts: Vec::with_capacity(m_size),
        scratch: Vec::new(),
        on_authenticated,
    };
    w.walk()?;
    w.finish()
}

impl Walk<'_> {
    /// `HeaderProcessor.run`'s loop: each child of the Security header in document order, what an
    /// EncryptedData held looked at in its place.
    fn walk(&mut self) -> Result<()> {
        let security = self.m.security;
        let mut cursor = self.m.doc.children(security).first().copied();
        while let Some(child) = cursor {
            if self.m.doc.element(child).is_some() {
                if let Some(held) = self.process(child)? {
                    // an EncryptedData: look at what it held, in its place
                    cursor = Some(held);
                    continue;
                }
            }
            // the sibling after the node, looked up afresh: a ReferenceList may have changed what follows
            let siblings = self.m.doc.children(security);
            cursor = siblings
                .iter()
                .position(|c| *c == child)
                .and_then(|i| siblings.get(i + 1))
                .copied();
        }
        self.decrypt_deferred()
    }

    /// One child of the Security header; for a decrypted EncryptedData, the element it held.
    fn process(&mut self, child: NodeId) -> Result<Option<NodeId>> {
        let doc = &self.m.doc;
        if doc.is(child, WSU, "Timestamp") {
            return Ok(None);
        }
        if xml::sc_version_of(doc, child, "SecurityContextToken").is_some()
            || xml::sc_version_of(doc, child, "DerivedKeyToken").is_some()
        {
            self.token_key(child)?;
        } else if doc.is(child, XENC, "ReferenceList") {
            let refs: Vec<String> = doc
                .child_elements(child)
                .filter(|r| doc.is(*r, XENC, "DataReference"))
                .map(|r| doc.attribute(r, "", "URI").unwrap_or("").to_owned())
                .collect();
            for uri in refs {
                self.decrypt_reference(&uri)?;
            }
        } else if doc.is(child, XENC, "EncryptedData") {
            return self.decrypt(child, None).map(Some);
        } else if doc.is(child, DS, "Signature") {
            self.verify_signature(child)?;
        } else if doc.is(child, WSSE11, "SignatureConfirmation") {
            let value = match doc.attribute(child, "", "Value") {
                None => None,
                Some(v) => Some(crate::crypto::b64decode(v).ok_or(Declined("bad base64"))?),
            };
            self.confirmations.push((value, child));
        } else {
            // EncryptedKey, BinarySecurityToken, UsernameToken, and every other element of the security
            // namespaces (refused by the Python path or outside the subset); elements of other namespaces
            // are ignored by the Python path, and by the core.
            let ns = xml::namespace(doc, child);
            if [WSSE, WSSE11, WSU, DS, XENC].contains(&ns) || super::SC_VERSIONS.contains(&ns) {
                return Err(Declined(
                    "a token or element outside the subset in the Security header",
                ));
            }
        }
        Ok(None)
    }

    // -- tokens (`TokenKeys`) ---------------------------------------------------------------------------

    fn token_key(&mut self, el: NodeId) -> Result<Key> {
        if let Some(key) = self.token_keys.get(&el) {
            return Ok(key.clone());
        }
        if self.in_progress.contains(&el) {
            return Err(Declined("circular token reference"));
        }
        self.in_progress.push(el);
        let key = self.process_token(el);
        self.in_progress.retain(|n| *n != el);
        let key = key?;
        self.token_keys.insert(el, key.clone());
        Ok(key)
    }

    fn process_token(&mut self, el: NodeId) -> Result<Key> {
        let doc = &self.m.doc;
        if xml::sc_version_of(doc, el, "SecurityContextToken").is_some() {
            let sct = tokens::parse_sct(doc, el)?;
            if let Some(id) = sct.wsu_id {
                self.sct_ids.push((id, sct.name.identifier.clone()));
            }
            return self.context(&sct.name);
        }
        if xml::sc_version_of(doc, el, "DerivedKeyToken").is_some() {
            let dkt = tokens::parse_dkt(doc, el)?;
            return self.derive(&dkt);
        }
        Err(Declined("not a key-bearing token of the subset"))
    }

    /// The key of a context named in phase 1 (a name not listed there, or listed otherwise, is declined).
    fn context(&self, name: &ContextName) -> Result<Key> {
        let i = self
            .m
            .contexts
            .iter()
            .position(|c| c.identifier == name.identifier)
            .ok_or(Declined("a context not named before the walk"))?;
        let known = self.m.contexts.get(i).ok_or(Declined("context"))?;
        if known.instance != name.instance
            || (name.namespace.is_some() && known.namespace != name.namespace)
        {
            return Err(Declined("a context named otherwise before the walk"));
        }
        let secret = self
            .keys
            .get(i)
            .ok_or(Declined("no key for a context"))?
            .clone();
        Ok(Key {
            secret,
            context: i,
            derived: false,
            depth: 0,
        })
    }

    fn derive(&mut self, dkt: &Dkt) -> Result<Key> {
        if self.derivation.is_none() {
            self.derivation = Some(dkt.version);
        }
        let reference = dkt
            .reference
            .as_ref()
            .ok_or(Declined("a DerivedKeyToken without a reference"))?;
        let base = self.resolve(Some(reference), false)?;
        if base.depth >= 1 {
            return Err(Declined(
                "derived keys may not be derived from derived keys",
            ));
        }
        let secret = tokens::derive(dkt, &base.secret, &self.m.limits)?;
        Ok(Key {
            secret,
            context: base.context,
            derived: true,
            depth: base.depth + 1,
        })
    }

    /// `TokenKeys.resolve`: local, then external (WSS 1.1 section 7 resolution order).
    pub(super) fn resolve(&mut self, reference: Option<&Str>, allow_implied: bool) -> Result<Key> {
        let reference = reference.ok_or(Declined("KeyInfo is required"))?;
        if reference.implied.is_some() {
            if !allow_implied {
                return Err(Declined("an implied derived key in a derived key"));
            }
            return self.derive(&tokens::implied(reference)?);
        }
        match &reference.target {
            Target::Local(id) => {
                let el = *self
                    .m
                    .ids
                    .get(id)
                    .ok_or(Declined("no such token in the Security header"))?;
                if self.m.doc.parent(el) != Some(self.m.security) {
                    return Err(Declined("no such token in the Security header"));
                }
                self.token_key(el)
            }
            Target::External {
                uri,
                value_type,
                instance,
            } => {
                let namespace = tokens::external_version(value_type.as_deref())?;
                self.context(&ContextName {
                    identifier: uri.clone(),
                    instance: instance.clone(),
                    namespace,
                })
            }
        }
    }

    // -- encryption (`HeaderProcessor.decrypt_reference`, `_decrypt_deferred`) ------------------------------

    fn decrypt_reference(&mut self, uri: &str) -> Result<()> {
        let id = uri
            .strip_prefix('#')
            .ok_or(Declined("a DataReference that is not local"))?;
        if self.decrypted_ids.contains(id) {
            return Ok(());
        }
        let ed = *self
            .m
            .ids
            .get(id)
            .ok_or(Declined("a DataReference to nothing"))?;
        if !self.m.doc.is(ed, XENC, "EncryptedData") {
            return Err(Declined(
                "a DataReference that does not name an EncryptedData",
            ));
        }
        if self.signer.is_none() && self.m.doc.parent(ed) != Some(self.m.security) {
            // The Body and the headers wait for the message signature to authenticate the sender.
            if self.deferred_set.insert(ed) {
                self.deferred.push(ed);
            }
            return Ok(());
        }
        self.decrypt(ed, None).map(|_| ())
    }

    pub(super) fn decrypt_deferred(&mut self) -> Result<()> {
        self.deferred_set.clear();
        for ed in std::mem::take(&mut self.deferred) {
            if self.m.doc.parent(ed).is_some() {
                self.decrypt(ed, None)?;
            }
        }
        Ok(())
    }

    /// `HeaderProcessor.decrypt`'s bookkeeping around the decryption (`xmlenc.rs`).
    pub(super) fn bind_decryption_key(&mut self, key: &Key) -> Result<()> {
        if let Some(signer) = &self.signer {
            if signer.context != key.context {
                return Err(Declined(
                    "parts encrypted under another token than the signer's",
                ));
            }
        }
        match self.decryption_token {
            None => self.decryption_token = Some(key.context),
            Some(t) if t != key.context => {
                return Err(Declined("parts encrypted under different tokens"))
            }
            Some(_) => {}
        }
        Ok(())
    }

    pub(super) fn index_node(&mut self, el: NodeId) -> Result<()> {
        super::locate::index(&self.m.doc, &mut self.m.ids, el)
    }

    pub(super) fn unindex(&mut self, el: NodeId) {
        let doc = &self.m.doc;
        for value in [doc.attribute(el, WSU, "Id"), doc.attribute(el, "", "Id")]
            .into_iter()
            .flatten()
        {
            if self.m.ids.get(value) == Some(&el) {
                self.m.ids.remove(value);
            }
        }
    }

    pub(super) fn spend(&mut self, bytes: usize) -> Result<()> {
        self.budget = self
            .budget
            .saturating_sub(i64::try_from(bytes).unwrap_or(i64::MAX));
        if self.budget < 0 {
            return Err(Declined("the signatures digest too many bytes"));
        }
        Ok(())
    }
}

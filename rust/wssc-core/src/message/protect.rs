//! The sender's symmetric binding (WS-SP 1.2 section 7.4) with keys from one protection token: the
//! compiled port of the symmetric part of `wssc.security.protect.protect`, same output layout.
//!
//! Security header (`sp:Strict`, WS-SP 1.2 section 7.7: declare before use): Timestamp, the protection
//! token when it travels, SignatureConfirmations (WSS 1.1 section 8.5), the DerivedKeyTokens (WS-SC 1.3
//! section 7) for signing then encryption, then the ReferenceList (XML-Enc 1.0 section 3.6) and the
//! (encrypted, `sp:EncryptSignature`) signature; with `sp:EncryptBeforeSigning` the signature precedes the
//! ReferenceList so that a receiver verifies before it decrypts.  Not here (the Python path keeps them):
//! endorsing and supporting tokens, an asymmetric signer.
//!
//! The envelope is parsed once into the core's tree; Body and signed headers are canonicalised from it for
//! their digests, the Security header, the signature and the EncryptedData are written as text (SignedInfo
//! and the Timestamp directly in canonical form), and the envelope is written around them
//! ([`super::envelope::write`]).

use super::envelope::Envelope;
use super::options::WSA_NAMESPACES;
pub use super::options::{
    Declined, ProtectInput, ProtectOptions, Protected, DEFAULT_LABEL, DERIVATION_NONCE_LENGTH,
    MAX_DERIVED_KEY_LENGTH, SC_NAMESPACES,
};
use super::text::{self, Ids};
use super::writer::{write, Output};
use crate::crypto::{derive_key, Cipher, Digest, Mac, MAX_IV};
use crate::dom::{Document, NodeId};
use crate::{exc_c14n_node, Limits};

/// IVs drawn with the rest of a message's random bytes: the Body's and the signature's (more encryptions,
/// of listed headers, draw theirs when these are used up).
const DRAWN_IVS: usize = 2;

/// The random bytes one message needs: the id prefix, up to two derivation nonces and the IVs of the
/// usual encryptions, from the operating system's generator in one call (a system call each was a
/// twentieth of a 1 KB message's time); a request beyond them is drawn from the generator then.
pub(super) struct Randomness {
    bytes: [u8; 4 + 2 * DERIVATION_NONCE_LENGTH + DRAWN_IVS * MAX_IV],
    used: usize,
}

impl Randomness {
    fn new() -> Result<Randomness, Declined> {
        let mut bytes = [0u8; 4 + 2 * DERIVATION_NONCE_LENGTH + DRAWN_IVS * MAX_IV];
        getrandom::fill(&mut bytes).map_err(|_| Declined("no randomness"))?;
        Ok(Randomness { bytes, used: 0 })
    }

    /// `N` bytes never handed out before.
    fn take<const N: usize>(&mut self) -> Result<[u8; N], Declined> {
        let mut out = [0u8; N];
        let end = self.used + N;
        match self.bytes.get(self.used..end) {
            Some(slice) => {
                out.copy_from_slice(slice);
                self.used = end;
            }
            None => getrandom::fill(&mut out).map_err(|_| Declined("no randomness"))?,
        }
        Ok(out)
    }

    /// An IV for one encryption ([`Cipher::encrypt_with_iv`]).
    pub(super) fn iv(&mut self) -> Result<[u8; MAX_IV], Declined> {
        self.take::<MAX_IV>()
    }
}

pub(super) fn clark(doc: &Document, id: NodeId) -> String {
    match doc.element(id) {
        Some(e) if e.name.ns.is_empty() => e.name.local.to_string(),
        Some(e) => format!("{{{}}}{}", e.name.ns, e.name.local),
        None => String::new(),
    }
}

/// A key and the KeyInfo content naming it, as written and in canonical form (the latter only when the
/// KeyInfo ends up in a signed EncryptedData).
pub(super) struct Key {
    pub(super) key: Vec<u8>,
    pub(super) info: String,
    pub(super) canonical_info: Option<String>,
}

/// What a Reference covers.
pub(super) enum Signed {
    Body,
    Header(NodeId),
    /// an EncryptedData on the wire, in canonical form (encrypt-before-sign)
    Canonical(String),
}

pub(super) struct State<'a> {
    pub(super) input: &'a ProtectInput<'a>,
    pub(super) doc: Document,
    pub(super) env: Envelope,
    pub(super) ids: Ids,
    pub(super) randomness: Randomness,
    pub(super) parts: Vec<String>,
    pub(super) data_refs: Vec<String>,
    pub(super) encrypted_headers: Vec<(NodeId, String)>,
    /// the Body's EncryptedData up to its cipher value, and the cipher value
    pub(super) encrypted_body: Option<(String, Vec<u8>)>,
    /// the Body's canonical form when its EncryptedData is signed
    pub(super) body_canonical: Option<Vec<u8>>,
}

/// Protect `input.envelope` (`protect.protect` with a ContextProtection-like token, no endorsing or
/// supporting tokens, no asymmetric signer), or decline.
pub fn protect(input: &ProtectInput<'_>) -> Result<Protected, Declined> {
    let opts = input.options;
    if !(opts.sign || opts.encrypt) {
        return Err(Declined("neither sign nor encrypt"));
    }
    if !SC_NAMESPACES.contains(&input.sc_namespace) {
        return Err(Declined("unknown WS-SecureConversation namespace"));
    }
    if input.label.is_some_and(|l| l != DEFAULT_LABEL) {
        return Err(Declined("a derivation label other than the default"));
    }
    let mac = if opts.sign {
        Some(Mac::from_uri(&opts.signature).ok_or("signature method")?)
    } else {
        None
    };
    let digest = if opts.sign {
        Some(Digest::from_uri(&opts.digest).ok_or("digest method")?)
    } else {
        None
    };
    let cipher = if opts.encrypt {
        Some(Cipher::from_uri(&opts.encryption).ok_or("encryption method")?)
    } else {
        None
    };
    // `wssc.primitives.xml.parse` refuses these bytes anywhere; the Python path raises, the core declines.
    super::xml::refuse_markup_declarations(input.envelope)?;
    let mut doc = Document::parse(input.envelope, &Limits::default())
        .map_err(|_| Declined("envelope not parsed"))?;
    let mut env = Envelope::analyse(&mut doc)?;
    env.size = input.envelope.len();
    let mut randomness = Randomness::new()?;
    let mut st = State {
        input,
        doc,
        env,
        ids: Ids::new(randomness.take::<4>()?),
        randomness,
        parts: Vec::new(),
        data_refs: Vec::new(),
        encrypted_headers: Vec::new(),
        encrypted_body: None,
        body_canonical: None,
    };
    let mut references: Vec<(String, Vec<u8>)> = Vec::new(); // (wsu:Id, digest value)
    let hash = |data: &[u8]| digest.map(|d| d.digest(data)).unwrap_or_default();

    if opts.include_timestamp {
        let id = st.ids.next("TS");
        let ts = text::timestamp(&id, input.created, input.expires);
        if opts.sign {
            references.push((id, hash(ts.as_bytes())));
        }
        st.parts.push(ts);
    }
    if let Some(token) = input.token_xml {
        st.parts.push(token.to_string());
        if opts.protect_tokens && opts.sign {
            let token_doc = Document::parse(token.as_bytes(), &Limits::default())
                .map_err(|_| Declined("token not parsed"))?;
            let root = token_doc.root();
            let id = [crate::WSU_NS, ""]
                .iter()
                .find_map(|ns| {
                    token_doc
                        .attribute(root, ns, "Id")
                        .filter(|v| !v.is_empty())
                })
                .ok_or("sp:ProtectTokens with a token without an Id")?;
            let mut canonical = Vec::new();
            exc_c14n_node(&token_doc, root, &[], &mut canonical);
            references.push((id.to_string(), hash(&canonical)));
        }
    }
    for confirmation in input.confirmations {
        let id = st.ids.next("SC");
        let xml = text::signature_confirmation(&id, confirmation.as_deref());
        if opts.sign {
            references.push((id, hash(xml.as_bytes())));
        }
        st.parts.push(xml);
    }
    let sign_key = if opts.sign {
        Some(st.key_for(opts.signature_key_length)?)
    } else {
        None
    };
    let enc = match cipher {
        Some(cipher) => {
            let key = st.key_for(opts.encryption_key_length)?;
            if key.key.len() != cipher.key_len() {
                return Err(Declined("encryption key length"));
            }
            Some((cipher, key))
        }
        None => None,
    };

    let mut signed: Vec<(String, Signed)> = Vec::new();
    if opts.sign && opts.sign_body {
        let State { doc, env, ids, .. } = &mut st;
        signed.push((
            env.ensure_id(doc, env.body, || ids.next("Body"))?,
            Signed::Body,
        ));
    }
    if opts.sign {
        if let Some(header) = st.env.header {
            let blocks: Vec<NodeId> = st.doc.child_elements(header).collect();
            for block in blocks {
                let name = clark(&st.doc, block);
                let ns = st
                    .doc
                    .element(block)
                    .map(|e| e.name.ns.as_str())
                    .unwrap_or("");
                let wanted = opts.signed_headers.contains(&name)
                    || (opts.sign_addressing_headers && WSA_NAMESPACES.contains(&ns));
                if wanted {
                    let State { doc, env, ids, .. } = &mut st;
                    signed.push((
                        env.ensure_id(doc, block, || ids.next("H"))?,
                        Signed::Header(block),
                    ));
                }
            }
        }
    }

    let encrypt_first = opts.encrypt && (opts.encrypt_before_sign || !opts.sign);
    if let (true, Some((cipher, key))) = (encrypt_first, &enc) {
        st.encrypt_parts(*cipher, key, opts.sign.then_some(&mut signed))?;
    }
    let mut signature_value = None;
    if let (Some(mac), Some(key)) = (mac, &sign_key) {
        for (id, part) in &signed {
            let canonical = match part {
                Signed::Body => match st.body_canonical.take() {
                    Some(c) => c,
                    None => st.canonical(st.env.body),
                },
                Signed::Header(node) => st.canonical(*node),
                Signed::Canonical(c) => {
                    references.push((id.clone(), hash(c.as_bytes())));
                    continue;
                }
            };
            references.push((id.clone(), hash(&canonical)));
        }
        let sig_id = st.ids.next("SIG");
        let inner = text::signed_info_inner(&opts.signature, &opts.digest, &references);
        let value = mac.sign(&key.key, text::signed_info_canonical(&inner).as_bytes());
        let mut sig_xml = text::signature(&sig_id, &inner, &value, &key.info);
        signature_value = Some(value);
        match (&enc, encrypt_first) {
            (None, _) => st.parts.push(sig_xml),
            (Some(_), true) => {
                st.parts.push(sig_xml);
                st.parts.push(text::reference_list(&st.data_refs));
            }
            (Some((cipher, key)), false) => {
                st.encrypt_parts(*cipher, key, None)?;
                if opts.encrypt_signature {
                    let ed_id = st.ids.next("ED");
                    let iv = st.randomness.iv()?;
                    sig_xml = encrypt(
                        *cipher,
                        key,
                        &iv,
                        &ed_id,
                        text::XENC_ELEMENT,
                        sig_xml.as_bytes(),
                    )?;
                    st.data_refs.push(ed_id);
                }
                st.parts.push(text::reference_list(&st.data_refs));
                st.parts.push(sig_xml);
            }
        }
    } else {
        st.parts.push(text::reference_list(&st.data_refs));
    }

    let mut security = text::security_start(
        input.sc_namespace,
        st.env.soap,
        must_understand(st.env.soap),
        400 + st.parts.iter().map(String::len).sum::<usize>(),
    );
    for part in &st.parts {
        security.push_str(part);
    }
    security.push_str(text::SECURITY_END);
    let output = Output {
        security: &security,
        headers: &st.encrypted_headers,
        body: st
            .encrypted_body
            .as_ref()
            .map(|(head, value)| (head.as_str(), value.as_slice())),
    };
    let data = write(&st.env, &st.doc, &output)?;
    Ok(Protected {
        data,
        signature_value,
    })
}

fn must_understand(soap: &str) -> &'static str {
    if soap == super::envelope::SOAP12 {
        "true"
    } else {
        "1"
    }
}

/// An EncryptedData (as written) holding `plaintext` encrypted under `key`.
fn encrypt(
    cipher: Cipher,
    key: &Key,
    iv: &[u8; MAX_IV],
    id: &str,
    data_type: &str,
    plaintext: &[u8],
) -> Result<String, Declined> {
    let value = cipher
        .encrypt_with_iv(&key.key, iv, plaintext)
        .map_err(|_| Declined("encryption failed"))?;
    Ok(text::encrypted_data(
        id,
        data_type,
        cipher.uri(),
        &key.info,
        &value,
        false,
    ))
}

impl State<'_> {
    pub(super) fn canonical(&self, node: NodeId) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.env.size);
        exc_c14n_node(&self.doc, node, &[], &mut out);
        out
    }

    /// The key for `length` bytes: a new DerivedKeyToken over the token (`sp:RequireDerivedKeys`) or the
    /// token's secret itself (`protect.key_for`).
    fn key_for(&mut self, length: usize) -> Result<Key, Declined> {
        let input = self.input;
        if !input.options.derived_keys {
            return Ok(Key {
                key: input.secret.to_vec(),
                info: input.reference_xml.to_string(),
                canonical_info: None,
            });
        }
        if !(1..=MAX_DERIVED_KEY_LENGTH).contains(&length) {
            return Err(Declined("derived key length"));
        }
        let id = self.ids.next("DK");
        let nonce = self.randomness.take::<DERIVATION_NONCE_LENGTH>()?;
        self.parts.push(text::derived_key_token(
            input.sc_namespace,
            &id,
            input.reference_xml,
            length,
            &nonce,
        ));
        let key = derive_key(input.secret, DEFAULT_LABEL.as_bytes(), &nonce, length, 0);
        Ok(Key {
            key,
            info: text::local_reference(&id, false),
            canonical_info: Some(text::local_reference(&id, true)),
        })
    }
}

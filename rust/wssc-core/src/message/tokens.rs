//! Token references and the keys of the symmetric subset (WSS 1.1 section 7; WS-SC 1.3 sections 3, 7, 7.3;
//! `wssc.tokens.reference`, `wssc.tokens.sct`, `wssc.tokens.dkt`, `wssc.security.token_keys`).
//!
//! Every key comes from one context (an SCT in the header or referenced by Identifier), directly or derived
//! once by P_SHA1 (a DerivedKeyToken, or a key implied by `wsc:Nonce` on an STR).  KeyIdentifiers,
//! X.509 references and EncryptedKeys are outside the subset: declined.

use super::xml::{self, py_strip, sc_version_of};
use super::{ContextName, Declined, Result, WSSE, WSU};
use crate::dom::{Document, NodeId};

/// WS-SC 1.3 section 7: the default P_SHA1 label, "WS-SecureConversation" twice.
const DEFAULT_LABEL: &[u8] = b"WS-SecureConversationWS-SecureConversation";
/// `wssc.tokens.dkt.DEFAULT_LENGTH`: 32 bytes when a DerivedKeyToken has no Length (WS-SC 1.3 section 7).
const DEFAULT_LENGTH: u128 = 32;
/// xs:unsignedLong has at most 20 digits (`wssc.tokens.dkt._unsigned`).
const MAX_UNSIGNED_DIGITS: usize = 20;

/// What a `wsse:SecurityTokenReference` designates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Target {
    /// `URI="#id"`: a token in the Security header
    Local(String),
    /// an external reference: an SCT by Identifier (ValueType `.../sct` or none)
    External {
        uri: String,
        value_type: Option<String>,
        instance: Option<String>,
    },
}

/// A parsed STR: its target and, for an implied derived key (WS-SC 1.3 section 7.3), nonce, length and the
/// version whose attributes carried them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Str {
    pub target: Target,
    pub implied: Option<(Vec<u8>, Option<u128>, &'static str)>,
}

fn ascii_number(text: &str, max_digits: usize) -> Result<u128> {
    let t = py_strip(text);
    if t.is_empty() || t.len() > max_digits || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Declined("not an unsigned integer"));
    }
    t.parse().map_err(|_| Declined("not an unsigned integer"))
}

/// `SecurityTokenReference.from_element`: exactly one child (WS-I BSP R3061), a `wsse:Reference`.
pub(super) fn parse_str(doc: &Document, el: NodeId) -> Result<Str> {
    if !doc.is(el, WSSE, "SecurityTokenReference") {
        return Err(Declined("not a SecurityTokenReference"));
    }
    let children = xml::elements(doc, el);
    let [child] = children.as_slice() else {
        return Err(Declined(
            "a SecurityTokenReference must have exactly one child",
        ));
    };
    if !doc.is(*child, WSSE, "Reference") {
        // KeyIdentifier, X509Data and the rest: outside the subset
        return Err(Declined("a token reference other than wsse:Reference"));
    }
    let uri = doc.attribute(*child, "", "URI").unwrap_or("");
    if uri.is_empty() {
        return Err(Declined("wsse:Reference without URI"));
    }
    let target = if let Some(id) = uri.strip_prefix('#') {
        Target::Local(id.to_owned())
    } else {
        let mut instance = None;
        // The Python path reads wsc:Instance only when the Reference has more than two attributes.
        if doc.element(*child).map_or(0, |e| e.attributes.len()) > 2 {
            for v in super::SC_VERSIONS {
                if let Some(value) = doc.attribute(*child, v, "Instance") {
                    instance = Some(value.to_owned());
                }
            }
        }
        Target::External {
            uri: uri.to_owned(),
            value_type: doc.attribute(*child, "", "ValueType").map(str::to_owned),
            instance,
        }
    };
    let mut implied = None;
    for v in super::SC_VERSIONS {
        if let Some(raw) = doc.attribute(el, v, "Nonce") {
            if implied.is_some() {
                return Err(Declined("implied derived key attributes of two versions"));
            }
            let nonce = crate::crypto::b64decode(raw).ok_or(Declined("bad base64"))?;
            let length = match doc.attribute(el, v, "Length") {
                Some(raw_len) => Some(ascii_number(raw_len, 38)?),
                None => None,
            };
            implied = Some((nonce, length, v));
        }
    }
    Ok(Str { target, implied })
}

/// The WS-SC version of an external reference's ValueType (`.../sct`), None without one, declined for
/// another type (`TokenKeys.resolve`: "cannot resolve external reference").
pub(super) fn external_version(value_type: Option<&str>) -> Result<Option<&'static str>> {
    match value_type {
        None => Ok(None),
        Some(vt) => super::SC_VERSIONS
            .into_iter()
            .find(|v| vt.strip_prefix(v) == Some("/sct"))
            .map(Some)
            .ok_or(Declined(
                "an external reference to another token than an SCT",
            )),
    }
}

/// `sct.is_absolute_uri`: a scheme, a colon, something after it, no white space.  (The scheme's first letter
/// must be ASCII here, any letter in Python: stricter.)
fn is_absolute_uri(value: &str) -> bool {
    match value.split_once(':') {
        Some((scheme, rest)) => {
            !rest.is_empty()
                && scheme
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic())
                && !value.chars().any(xml::is_python_space)
        }
        None => false,
    }
}

/// A `wsc:SecurityContextToken` (WS-SC 1.3 section 3): Identifier, Instance, wsu:Id, version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Sct {
    pub name: ContextName,
    pub wsu_id: Option<String>,
}

/// `SecurityContextToken.from_element(keep_source=False)`.
pub(super) fn parse_sct(doc: &Document, el: NodeId) -> Result<Sct> {
    let version = sc_version_of(doc, el, "SecurityContextToken").ok_or(Declined("not an SCT"))?;
    let (mut identifier, mut instance) = (None, None);
    for child in doc.child_elements(el) {
        let slot = if doc.is(child, version, "Identifier") {
            &mut identifier
        } else if doc.is(child, version, "Instance") {
            &mut instance
        } else {
            continue; // extensions (WCF's dnse:Cookie), not read by a receiver
        };
        if slot.is_some() {
            return Err(Declined("an SCT with two Identifiers or Instances"));
        }
        *slot = Some(py_strip(&xml::text(doc, child)?.unwrap_or_default()).to_owned());
    }
    let identifier = identifier.unwrap_or_default();
    if identifier.is_empty() || !is_absolute_uri(&identifier) {
        return Err(Declined("SCT Identifier missing or not an absolute URI"));
    }
    Ok(Sct {
        name: ContextName {
            identifier,
            instance,
            namespace: Some(version),
        },
        wsu_id: doc
            .attribute(el, WSU, "Id")
            .filter(|v| !v.is_empty())
            .map(str::to_owned),
    })
}

/// A `wsc:DerivedKeyToken` (WS-SC 1.3 section 7) or the key an STR implies (section 7.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Dkt {
    pub reference: Option<Str>,
    pub nonce: Vec<u8>,
    pub length: Option<u128>,
    pub offset: Option<u128>,
    pub generation: Option<u128>,
    pub label: Option<String>,
    pub algorithm: Option<String>,
    pub version: &'static str,
}

const DKT_FIELDS: [&str; 5] = ["Generation", "Offset", "Length", "Label", "Nonce"];

/// `DerivedKeyToken.from_element`: the STR first, then each field at most once, nothing else.
pub(super) fn parse_dkt(doc: &Document, el: NodeId) -> Result<Dkt> {
    let version =
        sc_version_of(doc, el, "DerivedKeyToken").ok_or(Declined("not a DerivedKeyToken"))?;
    let mut fields: [Option<NodeId>; 5] = [None; 5];
    let mut reference = None;
    for child in doc.child_elements(el) {
        let field = DKT_FIELDS.iter().position(|f| doc.is(child, version, f));
        if let Some(i) = field {
            let slot = fields.get_mut(i).ok_or(Declined("DerivedKeyToken field"))?;
            if slot.is_some() {
                return Err(Declined("a DerivedKeyToken field twice"));
            }
            *slot = Some(child);
        } else if doc.is(child, WSSE, "SecurityTokenReference")
            && reference.is_none()
            && fields.iter().all(Option::is_none)
        {
            reference = Some(parse_str(doc, child)?);
        } else {
            return Err(Declined("unexpected element in a DerivedKeyToken"));
        }
    }
    let [generation, offset, length, label, nonce] = fields;
    if generation.is_some() && offset.is_some() {
        return Err(Declined("a DerivedKeyToken with Generation and Offset"));
    }
    let nonce = xml::b64_text(
        doc,
        nonce.ok_or(Declined("a DerivedKeyToken without Nonce"))?,
    )?;
    let number = |f: Option<NodeId>| -> Result<Option<u128>> {
        match f {
            None => Ok(None),
            Some(n) => Ok(Some(ascii_number(
                &xml::text(doc, n)?.unwrap_or_default(),
                MAX_UNSIGNED_DIGITS,
            )?)),
        }
    };
    Ok(Dkt {
        reference,
        nonce,
        length: number(length)?,
        offset: number(offset)?,
        generation: number(generation)?,
        label: match label {
            Some(n) => Some(xml::text(doc, n)?.unwrap_or_default().into_owned()),
            None => None,
        },
        algorithm: doc.attribute(el, "", "Algorithm").map(str::to_owned),
        version,
    })
}

/// `wssc.tokens.dkt.implied`: the derived key an STR's `wsc:Nonce`/`wsc:Length` imply.
pub(super) fn implied(reference: &Str) -> Result<Dkt> {
    let (nonce, length, version) = reference
        .implied
        .clone()
        .ok_or(Declined("no implied derived key"))?;
    Ok(Dkt {
        reference: Some(Str {
            target: reference.target.clone(),
            implied: None,
        }),
        nonce,
        length,
        offset: None,
        generation: None,
        label: None,
        algorithm: None,
        version,
    })
}

/// `DerivedKeyToken.derive`: WCF's receive limits (`check_limits`), then P_SHA1.
pub(super) fn derive(dkt: &Dkt, secret: &[u8], limits: &super::MessageLimits) -> Result<Vec<u8>> {
    let length = dkt.length.unwrap_or(DEFAULT_LENGTH);
    if length < 1 || length > limits.max_derived_key_length {
        return Err(Declined("derived key length out of range"));
    }
    let offset = match (dkt.offset, dkt.generation) {
        (Some(o), _) => o,
        (None, Some(g)) => g
            .checked_mul(length)
            .ok_or(Declined("derivation offset too large"))?,
        (None, None) => 0,
    };
    if offset > limits.max_derivation_offset {
        return Err(Declined("derivation offset too large"));
    }
    if let Some(label) = &dkt.label {
        if label.chars().count() > limits.max_derivation_label {
            return Err(Declined("derivation label too long"));
        }
    }
    if dkt.nonce.is_empty() || dkt.nonce.len() > limits.max_derivation_nonce {
        return Err(Declined("derivation nonce missing or too long"));
    }
    if let Some(a) = &dkt.algorithm {
        if !super::SC_VERSIONS
            .iter()
            .any(|v| a.strip_prefix(v) == Some("/dk/p_sha1"))
        {
            return Err(Declined("key derivation other than P_SHA1"));
        }
    }
    let label = dkt.label.as_deref().map_or(DEFAULT_LABEL, str::as_bytes);
    let (length, offset) = (
        usize::try_from(length).map_err(|_| Declined("derived key length out of range"))?,
        usize::try_from(offset).map_err(|_| Declined("derivation offset too large"))?,
    );
    Ok(crate::crypto::derive_key(
        secret, label, &dkt.nonce, length, offset,
    ))
}

//! The primitives of the symmetric binding, on RustCrypto's maintained crates.
//!
//! - P_SHA1 key derivation (TLS 1.0 P_hash, RFC 2246 section 5) as WS-SC 1.3 section 7 uses it:
//!   `P_SHA1(secret, label || nonce)[offset .. offset + length]` (`wssc.primitives.psha1`).
//! - AES-CBC and AES-GCM as XML Encryption uses them (XML-Enc 1.0 section 5.2, XML-Enc 1.1 section 5.2.4):
//!   the IV (nonce) prepended to the cipher text, XML-Enc padding (`wssc.primitives.ciphers`).
//! - HMAC-SHA1 / HMAC-SHA256 (XML-DSig section 6.3), SHA-1 / SHA-256 digests (XML-DSig section 6.2).
//! - base64 as strict as `wssc.primitives.xml.b64decode` (XML Schema base64Binary, whitespace allowed).
//!
//! No error says anything about a key, a plaintext or why a decryption failed beyond "failed": a
//! decryption must not become an oracle (Jager and Somorovsky, "How to break XML Encryption", CCS 2011).
//! MACs and digests are compared in constant time (`subtle`).

use hmac::{Hmac, Mac as _};
use sha1::Sha1;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

/// XML-DSig 1.0 section 6.2.1.
pub const SHA1_URI: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
/// XML-Enc 1.0 section 5.7.2.
pub const SHA256_URI: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
/// XML-DSig 1.0 section 6.3.1.
pub const HMAC_SHA1_URI: &str = "http://www.w3.org/2000/09/xmldsig#hmac-sha1";
/// RFC 4051 section 2.2.
pub const HMAC_SHA256_URI: &str = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256";

/// AES block length, also the CBC IV length (XML-Enc 1.0 section 5.2.2).
const AES_BLOCK: usize = 16;
/// AES-GCM nonce length (XML-Enc 1.1 section 5.2.4: a 96-bit IV).
const GCM_IV: usize = 12;
/// The longest IV of a [`Cipher`] (CBC's block), the random bytes one encryption takes.
pub const MAX_IV: usize = AES_BLOCK;
/// AES-GCM tag length (XML-Enc 1.1 section 5.2.4: a 128-bit tag).
const GCM_TAG: usize = 16;
/// SHA-1's output length, the block of P_SHA1.
const SHA1_LEN: usize = 20;

/// A primitive failed; deliberately without detail (no key, no plaintext, no padding oracle).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CryptoError(pub &'static str);

impl std::fmt::Display for CryptoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// `P_SHA1(secret, seed)[offset .. offset + length]` (RFC 2246 section 5; WS-SC 1.3 section 7).
///
/// A(0) = seed, A(i) = HMAC-SHA1(secret, A(i-1)); the output is HMAC(secret, A(1) || seed) ||
/// HMAC(secret, A(2) || seed) ...  The caller bounds `offset` and `length` (WCF's derivation limits).
pub fn p_sha1(secret: &[u8], seed: &[u8], length: usize, offset: usize) -> Vec<u8> {
    let Some(needed) = offset.checked_add(length) else {
        return Vec::new();
    };
    // HMAC accepts a key of any length (RFC 2104 section 2), so `new_from_slice` cannot fail.
    let Ok(keyed) = <Hmac<Sha1> as hmac::Mac>::new_from_slice(secret) else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(needed + SHA1_LEN);
    let mut a: [u8; SHA1_LEN];
    let mut h = keyed.clone();
    h.update(seed);
    a = h.finalize().into_bytes().into();
    loop {
        let mut h = keyed.clone();
        h.update(&a);
        h.update(seed);
        out.extend_from_slice(&h.finalize().into_bytes());
        if out.len() >= needed {
            break;
        }
        // A(i+1) only when another block is needed (a fifth of the HMACs of a 24- or 32-byte key).
        let mut h = keyed.clone();
        h.update(&a);
        a = h.finalize().into_bytes().into();
    }
    out.get(offset..needed)
        .map(<[u8]>::to_vec)
        .unwrap_or_default()
}

/// The derived key of WS-SC 1.3 section 7: `P_SHA1(secret, label || nonce)[offset .. offset + length]`.
pub fn derive_key(
    secret: &[u8],
    label: &[u8],
    nonce: &[u8],
    length: usize,
    offset: usize,
) -> Vec<u8> {
    let mut seed = Vec::with_capacity(label.len() + nonce.len());
    seed.extend_from_slice(label);
    seed.extend_from_slice(nonce);
    p_sha1(secret, &seed, length, offset)
}

/// A digest method of `ds:DigestMethod` (XML-DSig section 6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digest {
    Sha1,
    Sha256,
}

impl Digest {
    pub fn from_uri(uri: &str) -> Option<Digest> {
        match uri {
            SHA1_URI => Some(Digest::Sha1),
            SHA256_URI => Some(Digest::Sha256),
            _ => None,
        }
    }

    pub fn uri(self) -> &'static str {
        match self {
            Digest::Sha1 => SHA1_URI,
            Digest::Sha256 => SHA256_URI,
        }
    }

    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Digest::Sha1 => Sha1::digest(data).to_vec(),
            Digest::Sha256 => Sha256::digest(data).to_vec(),
        }
    }

    /// Whether `expected` is the digest of `data`, compared in constant time.
    pub fn verify(self, data: &[u8], expected: &[u8]) -> bool {
        ct_eq(&self.digest(data), expected)
    }
}

/// An HMAC `ds:SignatureMethod` (XML-DSig section 6.3; RFC 4051 section 2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mac {
    HmacSha1,
    HmacSha256,
}

impl Mac {
    pub fn from_uri(uri: &str) -> Option<Mac> {
        match uri {
            HMAC_SHA1_URI => Some(Mac::HmacSha1),
            HMAC_SHA256_URI => Some(Mac::HmacSha256),
            _ => None,
        }
    }

    pub fn uri(self) -> &'static str {
        match self {
            Mac::HmacSha1 => HMAC_SHA1_URI,
            Mac::HmacSha256 => HMAC_SHA256_URI,
        }
    }

    /// The full-length MAC of `data` (no HMACOutputLength truncation: XML-DSig errata E03, CVE-2009-0217).
    pub fn sign(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            Mac::HmacSha1 => match <Hmac<Sha1> as hmac::Mac>::new_from_slice(key) {
                Ok(mut m) => {
                    m.update(data);
                    m.finalize().into_bytes().to_vec()
                }
                Err(_) => Vec::new(),
            },
            Mac::HmacSha256 => match <Hmac<Sha256> as hmac::Mac>::new_from_slice(key) {
                Ok(mut m) => {
                    m.update(data);
                    m.finalize().into_bytes().to_vec()
                }
                Err(_) => Vec::new(),
            },
        }
    }

    /// Whether `signature` is the full-length MAC of `data`, compared in constant time.
    pub fn verify(self, key: &[u8], data: &[u8], signature: &[u8]) -> bool {
        let mac = self.sign(key, data);
        !mac.is_empty() && ct_eq(&mac, signature)
    }
}

/// Constant-time equality of two byte strings (a length difference is not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

mod cipher;
pub use cipher::Cipher;

mod base64text;
#[cfg(test)]
use base64text::b64decode_loop;
pub use base64text::{b64decode, b64encode, b64encode_into, b64encode_into_bytes};

#[cfg(test)]
#[path = "crypto_tests.rs"]
mod tests;

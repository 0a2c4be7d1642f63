//! The compiled protect's inputs and outputs (docs/core.md, the `wssc._core.protect` contract), and the
//! constants it shares with the Python path.

/// WS-SC 1.3 section 7 (and Feb 2005 section 7): the default P_SHA1 label.
pub const DEFAULT_LABEL: &str = "WS-SecureConversationWS-SecureConversation";
/// The WS-SecureConversation namespaces a DerivedKeyToken is written in (`wssc.versions`).
pub use super::SC_VERSIONS as SC_NAMESPACES;
/// The nonce of a new DerivedKeyToken: 16 bytes, WCF's length (`limits.DERIVATION_NONCE_LENGTH`).
pub const DERIVATION_NONCE_LENGTH: usize = 16;
/// Longest derived key (`limits.MAX_DERIVED_KEY_LENGTH`, WCF's `MaximumKeyDerivationLength`).
pub const MAX_DERIVED_KEY_LENGTH: usize = 64;
pub(super) use super::WSA_NAMESPACES;

/// `ProtectionPolicy` with the suite's algorithms resolved (and GCM substituted) by the caller.
#[derive(Debug, Clone)]
pub struct ProtectOptions {
    pub signature: String,
    pub digest: String,
    pub encryption: String,
    pub signature_key_length: usize,
    pub encryption_key_length: usize,
    pub sign: bool,
    pub encrypt: bool,
    pub derived_keys: bool,
    pub encrypt_signature: bool,
    pub encrypt_before_sign: bool,
    pub include_timestamp: bool,
    pub sign_body: bool,
    pub sign_addressing_headers: bool,
    /// Clark names `{ns}local`
    pub signed_headers: Vec<String>,
    pub encrypted_headers: Vec<String>,
    pub protect_tokens: bool,
}

impl Default for ProtectOptions {
    /// `wssc.security.policy.ProtectionPolicy()`'s defaults: Basic256 (HMAC-SHA1 with a 24-byte derived key,
    /// SHA-1 digests, AES-256-CBC), sign then encrypt with derived keys, the signature encrypted, a signed
    /// Timestamp, Body and WS-Addressing headers.
    fn default() -> Self {
        ProtectOptions {
            signature: "http://www.w3.org/2000/09/xmldsig#hmac-sha1".into(),
            digest: "http://www.w3.org/2000/09/xmldsig#sha1".into(),
            encryption: "http://www.w3.org/2001/04/xmlenc#aes256-cbc".into(),
            signature_key_length: 24,
            encryption_key_length: 32,
            sign: true,
            encrypt: true,
            derived_keys: true,
            encrypt_signature: true,
            encrypt_before_sign: false,
            include_timestamp: true,
            sign_body: true,
            sign_addressing_headers: true,
            signed_headers: vec![],
            encrypted_headers: vec![],
            protect_tokens: false,
        }
    }
}

/// One call: the envelope, the protection token's secret and how the message carries and references it.
pub struct ProtectInput<'a> {
    pub envelope: &'a [u8],
    pub secret: &'a [u8],
    /// the token's XML when it travels in the header (an SCT), else None
    pub token_xml: Option<&'a str>,
    /// the STR referencing the token, for derived keys or as KeyInfo
    pub reference_xml: &'a str,
    pub sc_namespace: &'a str,
    /// the derivation label, None for the default
    pub label: Option<&'a str>,
    pub options: &'a ProtectOptions,
    /// the Timestamp's Created and Expires texts
    pub created: &'a str,
    pub expires: Option<&'a str>,
    /// request signature values to confirm (None: an unsigned request)
    pub confirmations: &'a [Option<Vec<u8>>],
}

/// The protected envelope and its signature value (for SignatureConfirmation).
#[derive(Debug)]
pub struct Protected {
    pub data: Vec<u8>,
    pub signature_value: Option<Vec<u8>>,
}

pub use super::Declined;

impl std::error::Error for Declined {}

impl From<&'static str> for Declined {
    fn from(reason: &'static str) -> Declined {
        Declined(reason)
    }
}

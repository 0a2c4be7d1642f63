//! The compiled unprotect on two messages the Python path protected (`wssc.security.protect`, key
//! `bytes(range(32))`): the default policy under SOAP 1.1 and WS-SC 1.3 with the SCT in the header, and
//! encrypt-before-sign with AES-GCM, Basic128Sha256, an encrypted signed header, a SignatureConfirmation,
//! SOAP 1.2 and WS-SC February 2005 with the context referenced by Identifier.  The core ignores time, so
//! the Timestamps in these files never go stale here.

use super::*;
use crate::crypto::Digest;

const DEFAULT: &[u8] = include_bytes!("testdata/default_soap11.xml");
const ENCRYPT_FIRST: &[u8] = include_bytes!("testdata/encrypt_first_gcm_soap12.xml");
const CUSTOM: &str = "{urn:example:x}Custom";

fn key(n: u8) -> Vec<u8> {
    (0..n).collect()
}

fn verify(data: &[u8], keys: &[Vec<u8>], policy: &Policy) -> Result<Record> {
    Incoming::parse(data, MessageLimits::default())?.verify(keys, policy, &mut |_| true)
}

fn default_policy() -> Policy {
    Policy {
        encrypted_signature: true,
        ..Policy::default()
    }
}

/// Replace the first occurrence of `from` (which must occur) by `to`.
fn replace(data: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = std::str::from_utf8(data).unwrap();
    assert!(text.contains(from), "{from}");
    text.replacen(from, to, 1).into_bytes()
}

/// Change one base64 character inside the first element whose start tag ends with `tag>`.
fn flip_in(data: &[u8], tag: &str) -> Vec<u8> {
    let text = std::str::from_utf8(data).unwrap();
    let start = text.find(&format!("{tag}>")).unwrap() + tag.len() + 1 + 2;
    let mut out = data.to_vec();
    out[start] = if out[start] == b'B' { b'C' } else { b'B' };
    out
}

#[test]
fn phase_one_reads_timestamp_and_contexts() {
    let m = Incoming::parse(DEFAULT, MessageLimits::default()).unwrap();
    assert_eq!(m.soap(), SOAP11);
    let (created, expires, id) = m.timestamp.clone().unwrap();
    assert!(id.is_some());
    assert!(created.starts_with("20") && expires.unwrap() > created);
    assert_eq!(
        m.contexts,
        vec![ContextName {
            identifier: "urn:uuid:00000000-0000-4000-8000-000000000001".into(),
            instance: None,
            namespace: Some(SC13),
        }]
    );
    let m = Incoming::parse(ENCRYPT_FIRST, MessageLimits::default()).unwrap();
    assert_eq!(m.contexts.len(), 1);
    assert_eq!(m.contexts[0].namespace, Some(SC2005));
}

#[test]
fn accepts_the_default_layout() {
    let r = verify(DEFAULT, &[key(32)], &default_policy()).unwrap();
    assert_eq!(r.soap, SOAP11);
    assert_eq!(r.body, (true, true));
    assert_eq!(r.headers.len(), 4);
    assert!(r
        .headers
        .iter()
        .all(|(_, signed, encrypted)| *signed && !encrypted));
    assert_eq!(r.headers[3].0, CUSTOM);
    assert_eq!(
        r.signature.as_ref().unwrap().0,
        crate::crypto::HMAC_SHA1_URI
    );
    assert_eq!(r.signature_key, Some((0, true)));
    // the Body and the encrypted signature, both under derived keys
    assert_eq!(r.decryption.len(), 2);
    assert!(r.decryption.iter().all(|d| d.1 == 0 && d.2));
    assert_eq!(r.decryption[0].0, Part::Signature);
    assert_eq!(r.decryption[1].0, Part::Body);
    assert_eq!(r.derivation, Some(SC13));
    assert_eq!(
        r.sct_ids,
        vec![(
            "SCT-1".into(),
            "urn:uuid:00000000-0000-4000-8000-000000000001".into()
        )]
    );
    assert!(r.first_cipher_value.is_some());
    assert_eq!(r.security_parts.len(), 1);
    assert!(r.security_parts[0].0.ends_with("}Timestamp"));
}

#[test]
fn every_reported_digest_is_the_digest_of_the_output() {
    for (data, keys) in [(DEFAULT, vec![key(32)]), (ENCRYPT_FIRST, vec![key(16)])] {
        let r = verify(data, &keys, &Policy::default()).unwrap();
        let out = Document::parse(&r.output, &crate::Limits::default()).unwrap();
        let envelope = out.root();
        let parts: Vec<NodeId> = out.child_elements(envelope).collect();
        let (header, body) = (parts[0], parts[1]);
        let blocks: Vec<NodeId> = out.child_elements(header).collect();
        assert_eq!(blocks.len(), r.headers.len());
        assert!(!r.digests.is_empty());
        for (part, _id, uri, value, prefixes) in &r.digests {
            let prefixes: Vec<&str> = prefixes.iter().flatten().map(String::as_str).collect();
            let mut bytes = Vec::new();
            match part {
                Part::Body => crate::c14n::exc_c14n_node(&out, body, &prefixes, &mut bytes),
                Part::Header(i) => {
                    crate::c14n::exc_c14n_node(&out, blocks[*i], &prefixes, &mut bytes)
                }
                Part::Security(i) => bytes = r.security_parts[*i].1.clone(),
                Part::Signature => panic!("the signature is no signed part"),
            }
            assert_eq!(
                &Digest::from_uri(uri).unwrap().digest(&bytes),
                value,
                "{part:?}"
            );
        }
    }
}

#[test]
fn accepts_encrypt_before_sign_with_gcm_and_an_encrypted_header() {
    let policy = Policy {
        signature_methods: Some(vec![crate::crypto::HMAC_SHA256_URI.into()]),
        digests: Some(vec![crate::crypto::SHA256_URI.into()]),
        ciphers: Some(vec!["http://www.w3.org/2009/xmlenc11#aes128-gcm".into()]),
        encrypted_signature: false,
    };
    let r = verify(ENCRYPT_FIRST, &[key(16)], &policy).unwrap();
    assert_eq!(r.soap, SOAP12);
    assert_eq!(r.body, (true, true));
    let custom = r.headers.iter().find(|h| h.0 == CUSTOM).unwrap();
    assert_eq!(custom, &(CUSTOM.to_string(), true, true));
    assert_eq!(
        r.confirmations,
        vec![(Some(b"confirmed-value-0123".to_vec()), true)]
    );
    assert_eq!(r.derivation, Some(SC2005));
    assert!(r
        .decryption
        .iter()
        .all(|d| d.3 == "http://www.w3.org/2009/xmlenc11#aes128-gcm"));
    assert!(r.sct_ids.is_empty());
    // the signature is not encrypted in this layout: refused where the policy asks for it
    let asks = Policy {
        encrypted_signature: true,
        ..policy.clone()
    };
    assert_eq!(
        verify(ENCRYPT_FIRST, &[key(16)], &asks).unwrap_err(),
        Declined("the message signature must be encrypted")
    );
    let cbc_only = Policy {
        ciphers: Some(vec!["http://www.w3.org/2001/04/xmlenc#aes128-cbc".into()]),
        ..policy
    };
    assert!(verify(ENCRYPT_FIRST, &[key(16)], &cbc_only).is_err());
}

#[test]
fn declines_tampering_and_wrong_keys() {
    assert!(verify(DEFAULT, &[key(31)], &default_policy()).is_err());
    let mut other = key(32);
    other[0] ^= 1;
    assert!(verify(DEFAULT, &[other], &default_policy()).is_err());
    assert_eq!(
        verify(DEFAULT, &[], &default_policy()).unwrap_err(),
        Declined("a key for each context is needed")
    );
    assert!(verify(
        &flip_in(DEFAULT, "CipherValue"),
        &[key(32)],
        &default_policy()
    )
    .is_err());
    for tag in ["DigestValue", "SignatureValue", "CipherValue"] {
        assert!(
            verify(&flip_in(ENCRYPT_FIRST, tag), &[key(16)], &Policy::default()).is_err(),
            "{tag}"
        );
    }
    // a signed part changed in clear: its digest no longer matches
    let changed = replace(ENCRYPT_FIRST, "urn:example:echo", "urn:example:echO");
    assert_eq!(
        verify(&changed, &[key(16)], &Policy::default()).unwrap_err(),
        Declined("digest mismatch")
    );
}

#[test]
fn declines_what_lies_outside_the_subset_or_is_odd() {
    let security = r#"<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"/>"#;
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            replace(DEFAULT, "<s:Header>", "<s:Header><!-- <!DOCTYPE x> -->"),
            "a DTD or an entity declaration",
        ),
        (
            replace(DEFAULT, "<s:Header>", r#"<s:Header xmlns="urn:default">"#),
            "a default namespace in scope at the Envelope or Header",
        ),
        (
            replace(DEFAULT, "<s:Header>", &format!("<s:Header>{security}")),
            "more than one Security header",
        ),
        (
            replace(
                DEFAULT,
                r#"soapenv:mustUnderstand="1""#,
                r#"soapenv:actor="urn:x""#,
            ),
            "a Security header with an actor or role",
        ),
        (
            replace(DEFAULT, "<s:Header>", "<s:Header>text"),
            "text or a processing instruction between the SOAP parts",
        ),
        (
            replace(DEFAULT, "</s:Body>", "</s:Body><s:Body/>"),
            "not an Envelope of Header and Body",
        ),
        (
            replace(
                ENCRYPT_FIRST,
                "xmldsig-more#hmac-sha256",
                "xmldsig-more#rsa-sha256",
            ),
            "a signature method outside the subset",
        ),
    ];
    for (data, reason) in &cases {
        let keys = if data.len() < 7700 { key(16) } else { key(32) };
        assert_eq!(
            verify(data, &[keys], &Policy::default()).unwrap_err(),
            Declined(reason)
        );
    }
    // a second context: an SCT of another Identifier beside the one the message uses
    let other = r#"<c:SecurityContextToken xmlns:c="http://docs.oasis-open.org/ws-sx/ws-secureconversation/200512"><c:Identifier>urn:uuid:other</c:Identifier></c:SecurityContextToken>"#;
    let two = replace(
        DEFAULT,
        "<c:SecurityContextToken ",
        &format!("{other}<c:SecurityContextToken "),
    );
    assert_eq!(
        Incoming::parse(&two, MessageLimits::default()).unwrap_err(),
        Declined("more than one context")
    );
    // a Security header of a Timestamp only (a transport-protected message): nothing for the core to verify
    let bare = concat!(
        r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header>"#,
        r#"<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">"#,
        r#"<u:Timestamp xmlns:u="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">"#,
        r#"<u:Created>2026-01-01T00:00:00Z</u:Created></u:Timestamp></wsse:Security></s:Header>"#,
        r#"<s:Body><m:echo xmlns:m="urn:example">x</m:echo></s:Body></s:Envelope>"#
    );
    let refused = Incoming::parse(bare.as_bytes(), MessageLimits::default()).unwrap();
    assert_eq!(
        refused.timestamp,
        Some(("2026-01-01T00:00:00Z".to_string(), None, None))
    );
    assert!(refused.contexts.is_empty());
    assert_eq!(
        refused
            .verify(&[], &Policy::default(), &mut |_| true)
            .unwrap_err(),
        Declined("the message is neither signed nor encrypted")
    );
    let many_ids = replace(DEFAULT, "u:Id=\"SCT-1\"", "u:Id=\"SCT-1\" Id=\"SCT-2\"");
    assert!(
        verify(&many_ids, &[key(32)], &default_policy()).is_ok(),
        "two ids on one element are fine"
    );
    let duplicate = replace(DEFAULT, "u:Id=\"SCT-1\"", "u:Id=\"SCT-1\" Id=\"SCT-1x\"");
    let duplicate = replace(
        &duplicate,
        "<wsse:Security ",
        "<wsse:Security Id=\"SCT-1x\" ",
    );
    assert_eq!(
        verify(&duplicate, &[key(32)], &default_policy()).unwrap_err(),
        Declined("duplicate id")
    );
}

#[test]
fn applies_the_limits() {
    let with = |f: fn(&mut MessageLimits)| {
        let mut limits = MessageLimits::default();
        f(&mut limits);
        Incoming::parse(DEFAULT, limits)
            .and_then(|m| m.verify(&[key(32)], &default_policy(), &mut |_| true))
    };
    assert!(with(|_| ()).is_ok());
    assert!(with(|l| l.max_message_bytes = 1000).is_err());
    assert!(with(|l| l.max_xml_depth = 3).is_err());
    assert!(with(|l| l.max_security_header_elements = 3).is_err());
    assert!(with(|l| l.max_signature_references = 2).is_err());
    assert!(with(|l| l.max_signatures = 0).is_err());
    assert!(with(|l| l.max_derived_key_length = 16).is_err());
    assert!(with(|l| l.max_derivation_nonce = 8).is_err());
}

#[test]
fn the_receiver_is_told_the_signature_value_before_anything_waiting_is_decrypted() {
    let mut told = Vec::new();
    let refused = Incoming::parse(DEFAULT, MessageLimits::default())
        .unwrap()
        .verify(&[key(32)], &default_policy(), &mut |value| {
            told.push(value.to_vec());
            false
        })
        .unwrap_err();
    assert_eq!(refused, Declined("refused once authenticated"));
    assert_eq!(told.len(), 1);
    let accepted = Incoming::parse(DEFAULT, MessageLimits::default())
        .unwrap()
        .verify(&[key(32)], &default_policy(), &mut |_| true)
        .unwrap();
    assert_eq!(accepted.signature.unwrap().2, told[0]);
}

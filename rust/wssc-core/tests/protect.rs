//! The compiled protect: what it writes verifies and decrypts with the primitives, its layout is the Python
//! path's, and it declines what it does not reproduce.  (tests/core/test_core_protect.py holds it to the
//! Python path itself.)

use wssc_core::crypto::{b64decode, Cipher, Digest, Mac};
use wssc_core::message::protect::{protect, Declined, ProtectInput, ProtectOptions, Protected};
use wssc_core::{exc_c14n, Document, Limits, NodeId, Selector};

const SC: &str = "http://docs.oasis-open.org/ws-sx/ws-secureconversation/200512";
const WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
const XENC: &str = "http://www.w3.org/2001/04/xmlenc#";
const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
const SECRET: [u8; 32] = [7u8; 32];
const ENVELOPE: &[u8] =
    b"<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"><s:Header>\
<a:To xmlns:a=\"http://www.w3.org/2005/08/addressing\">http://x/</a:To></s:Header>\
<s:Body><m:op xmlns:m=\"urn:m\">1 &amp; 2</m:op></s:Body></s:Envelope>";

fn run(envelope: &[u8], options: &ProtectOptions, sc: &str) -> Result<Protected, Declined> {
    let token = format!(
        "<c:SecurityContextToken xmlns:c=\"{SC}\" xmlns:u=\"{}\" u:Id=\"SCT-1\"><c:Identifier>urn:uuid:1</c:Identifier></c:SecurityContextToken>",
        wssc_core::WSU_NS
    );
    let reference = format!(
        "<wsse:SecurityTokenReference xmlns:wsse=\"{WSSE}\"><wsse:Reference URI=\"#SCT-1\" ValueType=\"{SC}/sct\"/></wsse:SecurityTokenReference>"
    );
    protect(&ProtectInput {
        envelope,
        secret: &SECRET,
        token_xml: Some(&token),
        reference_xml: &reference,
        sc_namespace: sc,
        label: None,
        options,
        created: "2026-01-01T00:00:00.000Z",
        expires: Some("2026-01-01T00:05:00.000Z"),
        confirmations: &[],
    })
}

fn security_children(doc: &Document) -> Vec<NodeId> {
    let root = doc.root();
    let header = doc.child_elements(root).next().expect("a Header");
    let security = doc
        .child_elements(header)
        .next()
        .expect("a Security header");
    assert!(doc.is(security, WSSE, "Security"));
    doc.child_elements(security).collect()
}

fn local_names(doc: &Document, ids: &[NodeId]) -> Vec<String> {
    ids.iter()
        .map(|id| doc.element(*id).expect("element").name.local.to_string())
        .collect()
}

fn find(doc: &Document, from: NodeId, ns: &str, local: &str) -> Option<NodeId> {
    if doc.is(from, ns, local) {
        return Some(from);
    }
    doc.child_elements(from)
        .find_map(|c| find(doc, c, ns, local))
}

#[test]
fn the_signature_verifies_over_what_it_references() {
    let opts = ProtectOptions {
        encrypt: false,
        derived_keys: false,
        ..ProtectOptions::default()
    };
    let out = run(ENVELOPE, &opts, SC).expect("protected");
    let doc = Document::parse(&out.data, &Limits::default()).expect("well-formed");
    let children = security_children(&doc);
    assert_eq!(
        local_names(&doc, &children),
        ["Timestamp", "SecurityContextToken", "Signature"]
    );
    let signature = *children.last().expect("a Signature");
    let signed_info = find(&doc, signature, DS, "SignedInfo").expect("SignedInfo");
    let mut canonical = Vec::new();
    wssc_core::exc_c14n_node(&doc, signed_info, &[], &mut canonical);
    let value = out.signature_value.expect("a signature value");
    assert!(Mac::HmacSha1.verify(&SECRET, &canonical, &value));
    let mut references = Vec::new();
    for reference in doc
        .child_elements(signed_info)
        .filter(|r| doc.is(*r, DS, "Reference"))
    {
        let uri = doc
            .attribute(reference, "", "URI")
            .expect("URI")
            .to_string();
        let digest = find(&doc, reference, DS, "DigestValue").expect("DigestValue");
        let target = exc_c14n(&out.data, Selector::Id(&uri[1..]), &[]).expect("resolves");
        let expected = b64decode(&doc.text(digest)).expect("base64");
        assert_eq!(Digest::Sha1.digest(&target), expected, "{uri}");
        references.push(uri);
    }
    assert_eq!(references.len(), 3, "Timestamp, Body, wsa:To");
    assert!(references[1].starts_with("#Body_") && references[2].starts_with("#H_"));
}

#[test]
fn the_body_content_decrypts_to_its_children_with_their_namespaces() {
    let opts = ProtectOptions {
        sign: false,
        derived_keys: false,
        ..ProtectOptions::default()
    };
    let out = run(ENVELOPE, &opts, SC).expect("protected");
    assert!(out.signature_value.is_none());
    let doc = Document::parse(&out.data, &Limits::default()).expect("well-formed");
    assert_eq!(
        local_names(&doc, &security_children(&doc)),
        ["Timestamp", "SecurityContextToken", "ReferenceList"]
    );
    let cipher_value = find(&doc, doc.root(), XENC, "CipherValue").expect("CipherValue");
    let data = b64decode(&doc.text(cipher_value)).expect("base64");
    let (plaintext, padding_ok) = Cipher::Aes256Cbc
        .decrypt_unchecked(&SECRET, &data)
        .expect("decrypts");
    assert!(padding_ok);
    // lxml's etree.tostring of the child: its own declarations, then the Envelope's (with the added u).
    let expected = format!(
        "<m:op xmlns:m=\"urn:m\" xmlns:s=\"{SOAP12}\" xmlns:u=\"{}\">1 &amp; 2</m:op>",
        wssc_core::WSU_NS
    );
    assert_eq!(String::from_utf8(plaintext).expect("UTF-8"), expected);
}

#[test]
fn layouts_follow_the_order_of_protection() {
    let doc_of = |opts: &ProtectOptions| {
        let out = run(ENVELOPE, opts, SC).expect("protected");
        let doc = Document::parse(&out.data, &Limits::default()).expect("well-formed");
        local_names(&doc, &security_children(&doc))
    };
    let mut opts = ProtectOptions::default();
    let dkt = "DerivedKeyToken";
    let head = ["Timestamp", "SecurityContextToken", dkt, dkt];
    let mut expected: Vec<&str> = head.to_vec();
    expected.extend(["ReferenceList", "EncryptedData"]);
    assert_eq!(doc_of(&opts), expected);
    opts.encrypt_signature = false;
    expected.truncate(4);
    expected.extend(["ReferenceList", "Signature"]);
    assert_eq!(doc_of(&opts), expected);
    opts.encrypt_before_sign = true;
    expected.truncate(4);
    expected.extend(["Signature", "ReferenceList"]);
    assert_eq!(doc_of(&opts), expected);
}

#[test]
fn existing_ids_are_kept_and_a_declared_wsu_is_used() {
    let envelope = format!(
        "<s:Envelope xmlns:s=\"{SOAP12}\" xmlns:wsu=\"{}\"><s:Body wsu:Id=\"mine\"><x/></s:Body></s:Envelope>",
        wssc_core::WSU_NS
    );
    let opts = ProtectOptions {
        encrypt: false,
        ..ProtectOptions::default()
    };
    let out = run(envelope.as_bytes(), &opts, SC).expect("protected");
    let text = String::from_utf8(out.data).expect("UTF-8");
    assert!(text.contains("URI=\"#mine\""));
    let envelope_start = text.split('>').next().unwrap_or_default();
    assert!(
        !envelope_start.contains("xmlns:u="),
        "no second declaration of the utility namespace"
    );
    assert!(text
        .starts_with("<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" xmlns:wsu="));
    assert!(
        text.contains("<s:Header><wsse:Security"),
        "the Header is created before the Body"
    );
}

#[test]
fn what_is_not_reproduced_is_declined() {
    let declined = |envelope: &[u8], opts: &ProtectOptions, sc: &str| run(envelope, opts, sc).err();
    let opts = ProtectOptions::default();
    let cases: [&[u8]; 3] = [
        b"<x:Envelope xmlns:x=\"urn:x\"><x:Body/></x:Envelope>",
        b"<Envelope xmlns=\"http://www.w3.org/2003/05/soap-envelope\"><Body/></Envelope>",
        b"<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" xmlns:u=\"urn:u\"><s:Body/></s:Envelope>",
    ];
    for envelope in cases {
        assert!(
            declined(envelope, &opts, SC).is_some(),
            "{}",
            String::from_utf8_lossy(envelope)
        );
    }
    assert!(declined(ENVELOPE, &opts, "urn:not-ws-sc").is_some());
    let des = ProtectOptions {
        encryption: "http://www.w3.org/2001/04/xmlenc#tripledes-cbc".into(),
        ..ProtectOptions::default()
    };
    assert!(declined(ENVELOPE, &des, SC).is_some());
    let nothing = ProtectOptions {
        sign: false,
        encrypt: false,
        ..ProtectOptions::default()
    };
    assert!(declined(ENVELOPE, &nothing, SC).is_some());
    // and the same envelope is protected when nothing stands in the way
    assert!(run(ENVELOPE, &opts, "http://schemas.xmlsoap.org/ws/2005/02/sc").is_ok());
}

/// The in-place encryption the sender uses (the IV written into the room before the plaintext, CBC padding
/// or the GCM tag appended): IV || cipher text as XML-Enc writes it, for every plaintext length across a
/// block boundary, decrypting to the plaintext with the given IV at its front.
#[test]
fn encryption_in_place_is_iv_then_cipher_text() {
    let iv = [0x5au8; 16];
    for uri in [
        "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
        "http://www.w3.org/2001/04/xmlenc#aes192-cbc",
        "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
        "http://www.w3.org/2009/xmlenc11#aes128-gcm",
        "http://www.w3.org/2009/xmlenc11#aes192-gcm",
        "http://www.w3.org/2009/xmlenc11#aes256-gcm",
    ] {
        let cipher = Cipher::from_uri(uri).expect("known cipher");
        let key = vec![3u8; cipher.key_len()];
        for len in [0usize, 1, 15, 16, 17, 33] {
            let plaintext: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut buffer = vec![0xffu8; cipher.iv_len()];
            buffer.extend_from_slice(&plaintext);
            let in_place = cipher.encrypt_buffer(&key, &iv, buffer).expect("encrypts");
            let copied = cipher
                .encrypt_with_iv(&key, &iv, &plaintext)
                .expect("encrypts");
            assert_eq!(in_place, copied, "{uri} {len}");
            assert_eq!(in_place.get(..cipher.iv_len()), iv.get(..cipher.iv_len()));
            let (decrypted, padding_ok) =
                cipher.decrypt_unchecked(&key, &in_place).expect("decrypts");
            assert!(padding_ok, "{uri} {len}");
            assert_eq!(decrypted, plaintext, "{uri} {len}");
        }
    }
}

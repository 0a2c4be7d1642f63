//! Known answers computed by the Python path (`wssc.primitives.psha1`, `ciphers`, `xml.b64decode`) and
//! the P_SHA1 vectors of `../shared/vectors` (read in place, skipped when absent).

use super::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

const PLAINTEXT: &[u8] = b"<a>hello world, seventeen+ bytes</a>";

#[test]
fn p_sha1_matches_python() {
    let secret: Vec<u8> = (1..25).collect();
    assert_eq!(
        p_sha1(&secret, b"seed-bytes", 32, 0),
        hex("fc23f58dd5b40a5839b754926dba38ca20544c4a964f68c2268cf468620747e6")
    );
    assert_eq!(
        p_sha1(&secret, b"seed-bytes", 45, 7),
        hex("5839b754926dba38ca20544c4a964f68c2268cf468620747e67b04eea63467c24f322fb2b0914981358fca38c7")
    );
    let base: Vec<u8> = (0..32).collect();
    assert_eq!(
        derive_key(
            &base,
            b"WS-SecureConversationWS-SecureConversation",
            &[0; 16],
            24,
            32
        ),
        hex("8b5109013da4f9c12933bf60443c7cf2619afdf8fa78fac0")
    );
    assert!(p_sha1(&secret, b"x", 0, 5).is_empty());
}

/// The value of `"key": "value"` on a line of a vector file (the files hold one field a line).
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = line.trim().strip_prefix(&format!("\"{key}\": \""))?;
    rest.split('"').next()
}

#[test]
fn p_sha1_shared_vectors() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/vectors");
    let Ok(mono) = std::fs::read_to_string(format!(
        "{root}/mono-wcf-captures/psha1_derivedkey_kat.json"
    )) else {
        eprintln!("shared vectors absent: skipped");
        return;
    };
    let get = |k: &str| mono.lines().find_map(|l| field(l, k)).unwrap().to_owned();
    let key = derive_key(
        &b64decode(&get("secret_b64")).unwrap(),
        get("label_utf8").as_bytes(),
        &[0; 256],
        32,
        0,
    );
    assert_eq!(key, b64decode(&get("expected_b64")).unwrap());

    let ck = std::fs::read_to_string(format!(
        "{root}/msidentitymodel-computedkey/computed_key_psha1_kat.json"
    ))
    .unwrap();
    let (mut issuer, mut requestor, mut bits, mut checked) = (None, None, 0usize, 0);
    for line in ck.lines() {
        if let Some(v) = field(line, "issuer_entropy_b64") {
            issuer = b64decode(v);
        } else if let Some(v) = field(line, "requestor_entropy_b64") {
            requestor = b64decode(v);
        } else if let Some(v) = line.trim().strip_prefix("\"key_size_bits\": ") {
            bits = v.trim_end_matches(',').parse().unwrap();
        } else if let Some(v) = field(line, "expected_key_b64") {
            let got = p_sha1(
                requestor.as_ref().unwrap(),
                issuer.as_ref().unwrap(),
                bits / 8,
                0,
            );
            assert_eq!(got, b64decode(v).unwrap());
            checked += 1;
        }
    }
    assert_eq!(checked, 10);
}

#[test]
fn hmac_and_digests_match_python() {
    let mac = Mac::HmacSha1.sign(b"key", b"The quick brown fox");
    assert_eq!(mac, hex("22f9e077a3cebd09248154f85d9a56c79941fd96"));
    assert!(Mac::HmacSha1.verify(b"key", b"The quick brown fox", &mac));
    let mut flipped = mac.clone();
    flipped[19] ^= 1;
    assert!(!Mac::HmacSha1.verify(b"key", b"The quick brown fox", &flipped));
    assert!(!Mac::HmacSha1.verify(b"key", b"The quick brown fox", &mac[..10]));
    let mac = Mac::HmacSha256.sign(&[0; 40], b"The quick brown fox");
    assert_eq!(
        mac,
        hex("831d2f46d18799176d0da02650e0e477509404e5a1cca13bf3c028f4f4884cd7")
    );
    assert_eq!(Mac::from_uri(HMAC_SHA256_URI), Some(Mac::HmacSha256));
    assert_eq!(
        Mac::from_uri("http://www.w3.org/2000/09/xmldsig#rsa-sha1"),
        None
    );
    assert_eq!(
        Digest::Sha1.digest(b"abc"),
        hex("a9993e364706816aba3e25717850c26c9cd0d89d")
    );
    assert_eq!(
        Digest::Sha256.digest(b"abc"),
        hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
    assert!(Digest::Sha256.verify(b"abc", &Digest::Sha256.digest(b"abc")));
    assert!(!Digest::Sha1.verify(b"abd", &Digest::Sha1.digest(b"abc")));
}

const CBC: [(Cipher, &str, &str); 3] = [
    (Cipher::Aes128Cbc, "6465666768696a6b6c6d6e6f707172733ae9f2e8f183d503882b71685ff60d72e339b204a709722ae044907eec842e2f8745bfe410feeda22d143967e9e28eb2",
     "6465666768696a6b6c6d6e6f707172733ae9f2e8f183d503882b71685ff60d72e339b204a709722ae044907eec842e2fb266e03cf1034a54c48cf088202097e4"),
    (Cipher::Aes192Cbc, "6465666768696a6b6c6d6e6f70717273e82e6cae77b79c6e0178b1b2fb20e00e3437da515e2bd10b5e18aa95901f3a807ab6c9ba1b636a0336616e3b11e50335",
     "6465666768696a6b6c6d6e6f70717273e82e6cae77b79c6e0178b1b2fb20e00e3437da515e2bd10b5e18aa95901f3a8027ced125742f53619c7f910d69d5eaae"),
    (Cipher::Aes256Cbc, "6465666768696a6b6c6d6e6f707172731f607695bcb8972272047b6e5f4e1b29f882cb21b49f70b05a1f59209c7429818c4578bc87b28392c6ca6751a381f8f4",
     "6465666768696a6b6c6d6e6f707172731f607695bcb8972272047b6e5f4e1b29f882cb21b49f70b05a1f59209c742981de3749d1aa8e8775174e49bedcef409d"),
];

#[test]
fn cbc_matches_python() {
    for (cipher, good, bad) in CBC {
        let key: Vec<u8> = (0..cipher.key_len() as u8).collect();
        assert_eq!(
            cipher.decrypt_unchecked(&key, &hex(good)),
            Ok((PLAINTEXT.to_vec(), true))
        );
        // Bad padding (last byte 0x20): the plaintext less its last byte, and `false`, as in Python.
        let (plain, ok) = cipher.decrypt_unchecked(&key, &hex(bad)).unwrap();
        assert!(!ok);
        assert_eq!(
            plain,
            hex("3c613e68656c6c6f20776f726c642c20736576656e7465656e2b206279746573000000000000000000000000000000")
        );
        let sealed = cipher.encrypt(&key, PLAINTEXT).unwrap();
        assert_eq!(sealed.len(), 16 + 48);
        assert_eq!(
            cipher.decrypt_unchecked(&key, &sealed),
            Ok((PLAINTEXT.to_vec(), true))
        );
        // Zero pad bytes, the last the pad length (what Python writes): decrypt without padding.
        let exact = cipher.encrypt(&key, &[7; 32]).unwrap();
        assert_eq!(exact.len(), 16 + 48);
        assert!(cipher.decrypt_unchecked(&key, &exact[..40]).is_err());
        assert!(cipher.decrypt_unchecked(&key, &exact[..16]).is_err());
        assert!(cipher.decrypt_unchecked(&key[1..], &sealed).is_err());
    }
}

#[test]
fn gcm_matches_python() {
    let cases = [
        (Cipher::Aes128Gcm, "c8c9cacbcccdcecfd0d1d2d30a49aad66b5f4746fee0c730ad054f8603758b6cbf5b7876ba9c67aa6f8b94b6c215f723359bd717f3d5fc9516bd45deec2ca5f7"),
        (Cipher::Aes192Gcm, "c8c9cacbcccdcecfd0d1d2d385e72240f37a3cdb3c5b798529b7ae96449d149d2d3572dcfd040b74bf2e309502b2c6e1ee02be3cfeaf37bcfa1a82acc4268cac"),
        (Cipher::Aes256Gcm, "c8c9cacbcccdcecfd0d1d2d32d195fb3e3a0974f544b70cc7262c73493e29acd6a1fcd4183821b83a3e5ce9af0a34b98898da6245cb139fb42186b89aa839444"),
    ];
    for (cipher, sealed) in cases {
        let key: Vec<u8> = (0..cipher.key_len() as u8).collect();
        let mut sealed = hex(sealed);
        assert_eq!(
            cipher.decrypt_unchecked(&key, &sealed),
            Ok((PLAINTEXT.to_vec(), true))
        );
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(cipher.decrypt_unchecked(&key, &sealed).is_err());
        assert!(cipher.decrypt_unchecked(&key, &sealed[..27]).is_err());
        let fresh = cipher.encrypt(&key, PLAINTEXT).unwrap();
        assert_eq!(fresh.len(), 12 + PLAINTEXT.len() + 16);
        assert_eq!(
            cipher.decrypt_unchecked(&key, &fresh),
            Ok((PLAINTEXT.to_vec(), true))
        );
        assert_ne!(
            fresh,
            cipher.encrypt(&key, PLAINTEXT).unwrap(),
            "a fresh IV each time"
        );
    }
    assert_eq!(
        Cipher::from_uri("http://www.w3.org/2001/04/xmlenc#tripledes-cbc"),
        None
    );
}

#[test]
fn base64_as_strict_as_python() {
    // (text, what Python's b64decode returns) ; None: Python refuses (or, marked, accepts but we refuse).
    let cases: [(&str, Option<&[u8]>); 18] = [
        ("QQ==", Some(b"A")),
        ("QR==", Some(b"A")),
        ("QUI=", Some(b"AB")),
        ("QUJD", Some(b"ABC")),
        ("QUJD\nQQ==\n", Some(b"ABCA")),
        (" Q U\tJ D\r\n", Some(b"ABC")),
        ("QUJD\u{a0}", Some(b"ABC")),
        ("QUJD\u{1c}", Some(b"ABC")),
        ("   ", Some(b"")),
        ("", None),
        ("QQ", None),
        ("QQ=", None),
        ("QQ==QQ==", None),
        ("=QQ=", None),
        ("QQ===", None),
        ("QUJD=", None), // CPython 3.11 accepts it, 3.13 refuses: the intersection refuses
        ("QU-D", None),
        ("QUJ\u{e9}", None),
    ];
    for (text, expected) in cases {
        assert_eq!(b64decode(text).as_deref(), expected, "{text:?}");
        assert_eq!(b64decode_loop(text).as_deref(), expected, "{text:?}");
    }
    // The fast path and the reference loop agree on every short string over a small alphabet.
    let alphabet = ['Q', 'U', 'J', 'D', 'A', '=', ' ', '\n', '\u{1c}', '-'];
    let mut text = String::new();
    for n in 0..6u32 {
        for i in 0..alphabet.len().pow(n) {
            text.clear();
            let mut k = i;
            for _ in 0..n {
                text.push(alphabet[k % alphabet.len()]);
                k /= alphabet.len();
            }
            assert_eq!(b64decode(&text), b64decode_loop(&text), "{text:?}");
        }
    }
    assert_eq!(b64encode(b"ABCA"), "QUJDQQ==");
}

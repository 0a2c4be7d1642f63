//! libFuzzer entry of wssc-core: one binary, the target chosen by `WSSC_FUZZ_TARGET` (scripts/fuzz-core runs
//! each in turn).  A target gets arbitrary bytes and must return, never panic, whatever they are; where the
//! output can be checked against the input (c14n is idempotent) it is.
//!
//! Adding an entry point is one line in [`TARGETS`] and its name in scripts/fuzz-core's `TARGETS`.
//!
//! The message layer's targets: `incoming` reads arbitrary bytes as a protected message (`Incoming::parse`,
//! then `verify` with a fixed key per context: past the signature only by chance); `round_trip` protects
//! arbitrary bytes as an envelope with the fixed key, then unprotects the result and one byte-flipped copy of
//! it (the walk past the signature, decryption and digests, reached with a valid key).

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wssc_core::message::protect::{protect, ProtectInput, ProtectOptions};
use wssc_core::message::{Incoming, MessageLimits, Policy};
use wssc_core::{
    exc_c14n, exc_c14n_many, exc_c14n_with_limits, Document, Limits, Selector, Target,
};

type Entry = fn(&[u8]);

/// The entry points fuzzed, by name.
const TARGETS: &[(&str, Entry)] = &[
    ("exc_c14n", fuzz_exc_c14n),
    ("incoming", fuzz_incoming),
    ("round_trip", fuzz_round_trip),
];

const SC13: &str = "http://docs.oasis-open.org/ws-sx/ws-secureconversation/200512";
const KEY: [u8; 32] = [7; 32];

/// `Incoming::parse` then `verify` with [`KEY`] for every context the message names; of a message accepted,
/// each Body child written on its own (`Record::payload_xml`) must be a document the core parses again.
fn unprotect(message: &[u8]) {
    if let Ok(incoming) = Incoming::parse(message, MessageLimits::default()) {
        let keys = vec![KEY.to_vec(); incoming.contexts.len()];
        if let Ok(record) = incoming.verify(&keys, &Policy::default(), &mut |_| true) {
            for form in record.payload_xml() {
                if let Err(err) = Document::parse(&form, &UNBOUNDED) {
                    panic!("a payload element written on its own is refused: {err}");
                }
            }
        }
    }
}

/// No bound: a payload element on its own is no larger, deeper or wider than the message it came from.
const UNBOUNDED: Limits = Limits {
    max_document_bytes: usize::MAX,
    max_depth: usize::MAX,
    max_attributes: usize::MAX,
    max_namespaces_in_scope: usize::MAX,
};

fn fuzz_incoming(data: &[u8]) {
    unprotect(data);
}

/// Protect `data` (as an envelope, under the default policy's options with the SCT in the header), then
/// unprotect the result and a copy with one byte flipped (its position and bit drawn from the input).
fn fuzz_round_trip(data: &[u8]) {
    let token = format!(
        "<c:SecurityContextToken xmlns:c=\"{SC13}\" xmlns:u=\"{}\" u:Id=\"SCT-1\"><c:Identifier>urn:uuid:1</c:Identifier></c:SecurityContextToken>",
        wssc_core::WSU_NS
    );
    let reference = format!(
        "<wsse:SecurityTokenReference xmlns:wsse=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd\"><wsse:Reference URI=\"#SCT-1\" ValueType=\"{SC13}/sct\"/></wsse:SecurityTokenReference>"
    );
    let options = ProtectOptions {
        encrypt_before_sign: data.first().is_some_and(|b| b & 1 == 1),
        ..ProtectOptions::default()
    };
    let input = ProtectInput {
        envelope: data,
        secret: &KEY,
        token_xml: Some(&token),
        reference_xml: &reference,
        sc_namespace: SC13,
        label: None,
        options: &options,
        created: "2026-01-01T00:00:00.000Z",
        expires: Some("2026-01-01T00:05:00.000Z"),
        confirmations: &[],
    };
    if let Ok(out) = protect(&input) {
        unprotect(&out.data);
        let mut flipped = out.data.clone();
        let at = data.len().wrapping_mul(31) % flipped.len().max(1);
        if let Some(byte) = flipped.get_mut(at) {
            *byte ^= 1 << (data.len() % 8);
        }
        unprotect(&flipped);
    }
}

/// Prefixes as they occur on WS-Security InclusiveNamespaces PrefixLists, `#default` included.
const PREFIXES: &[&str] = &["#default", "s", "soap", "wsu", "ds", "xenc"];
/// Small bounds, to reach every limit check (Limits' fields; the defaults are wssc's, see lib.rs).
const SMALL: Limits = Limits {
    max_document_bytes: 4096,
    max_depth: 4,
    max_attributes: 4,
    max_namespaces_in_scope: 4,
};

/// Exclusive c14n of arbitrary bytes (Exc-C14N 1.0 over Canonical XML 1.0): the document element, an element
/// by path and by id, several in one pass, under small limits; and the canonical form of the document
/// element, canonicalized again, must come back unchanged (Canonical XML's canonical form is a fixed point).
fn fuzz_exc_c14n(data: &[u8]) {
    if let Ok(canonical) = exc_c14n(data, Selector::DocumentElement, &[]) {
        match exc_c14n(&canonical, Selector::DocumentElement, &[]) {
            Ok(again) => assert!(again == canonical, "c14n is not idempotent"),
            Err(err) => panic!("the canonical form is refused: {err}"),
        }
    }
    let _ = exc_c14n(data, Selector::Path(&[1, 0]), PREFIXES);
    let _ = exc_c14n(data, Selector::Id("Body"), &["#default"]);
    let targets = [
        Target {
            selector: Selector::Id("_1"),
            inclusive_prefixes: PREFIXES,
        },
        Target {
            selector: Selector::Path(&[0]),
            inclusive_prefixes: &[],
        },
        Target {
            selector: Selector::DocumentElement,
            inclusive_prefixes: &["#default"],
        },
    ];
    let _ = exc_c14n_many(data, &targets, &Limits::default());
    let _ = exc_c14n_with_limits(data, Selector::DocumentElement, &[], &SMALL);
}

fn chosen() -> Entry {
    static CHOSEN: OnceLock<Entry> = OnceLock::new();
    *CHOSEN.get_or_init(|| {
        let name = std::env::var("WSSC_FUZZ_TARGET").unwrap_or_else(|_| "exc_c14n".to_owned());
        match TARGETS.iter().find(|(n, _)| *n == name) {
            Some((_, entry)) => *entry,
            None => panic!("WSSC_FUZZ_TARGET: no target {name:?}"),
        }
    })
}

fuzz_target!(|data: &[u8]| chosen()(data));

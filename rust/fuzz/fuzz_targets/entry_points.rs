//! libFuzzer entry of wssc-core: one binary, the target chosen by `WSSC_FUZZ_TARGET` (scripts/fuzz-core runs
//! each in turn).  A target gets arbitrary bytes and must return, never panic, whatever they are; where the
//! output can be checked against the input (c14n is idempotent) it is.
//!
//! Adding an entry point is one line in [`TARGETS`] and its name in scripts/fuzz-core's `TARGETS`, e.g. for
//! the message layer (rust/wssc-core/src/message/, in progress):
//!
//! ```text
//! ("incoming", |data| incoming(data)),   // Incoming::parse, then verify with a fixed key per context
//! ("protect", |data| protect(data)),     // protect of an arbitrary envelope under fixed options
//! ```

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wssc_core::{exc_c14n, exc_c14n_many, exc_c14n_with_limits, Limits, Selector, Target};

type Entry = fn(&[u8]);

/// The entry points fuzzed, by name.
const TARGETS: &[(&str, Entry)] = &[("exc_c14n", fuzz_exc_c14n)];

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

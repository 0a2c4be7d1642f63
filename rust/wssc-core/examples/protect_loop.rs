//! Time the compiled protect on the benchmark's envelope (`benchmarks/wss4j_bench.py` `make_envelope`,
//! default ProtectionPolicy): `cargo run --release --example protect_loop [body bytes] [iterations] [parse]`
//! (`parse`: time only the envelope's parse).  On a shared machine read the CPU time (`perf stat`).

use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use wssc_core::message::protect::{protect, ProtectInput, ProtectOptions};

fn make_envelope(size: usize) -> Vec<u8> {
    let head = "<ns:echo xmlns:ns=\"urn:example\">";
    let tail = "</ns:echo>";
    let room = size.saturating_sub(head.len() + tail.len());
    let mut items = String::new();
    let mut i = 0;
    loop {
        let item = format!("<ns:item n=\"{i}\">lorem ipsum dolor sit amet {i:06}</ns:item>");
        if items.len() + item.len() > room {
            break;
        }
        items.push_str(&item);
        i += 1;
    }
    while items.len() < room {
        items.push('x');
    }
    format!(
        "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Header/><soap:Body>{head}{items}{tail}</soap:Body></soap:Envelope>"
    )
    .into_bytes()
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let size = args.first().copied().unwrap_or(1024);
    let iterations = args.get(1).copied().unwrap_or(20_000);
    let envelope = make_envelope(size);
    let sc = "http://docs.oasis-open.org/ws-sx/ws-secureconversation/200512";
    let token = format!("<c:SecurityContextToken xmlns:c=\"{sc}\" xmlns:u=\"{}\" u:Id=\"SCT-1\"><c:Identifier>urn:uuid:1</c:Identifier></c:SecurityContextToken>", wssc_core::WSU_NS);
    let reference = format!("<wsse:SecurityTokenReference xmlns:wsse=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd\"><wsse:Reference URI=\"#SCT-1\" ValueType=\"{sc}/sct\"/></wsse:SecurityTokenReference>");
    let options = ProtectOptions::default();
    let secret = [7u8; 32];
    let input = ProtectInput {
        envelope: &envelope,
        secret: &secret,
        token_xml: Some(&token),
        reference_xml: &reference,
        sc_namespace: sc,
        label: None,
        options: &options,
        created: "2026-01-01T00:00:00.000Z",
        expires: Some("2026-01-01T00:05:00.000Z"),
        confirmations: &[],
    };
    let parse_only = std::env::args().any(|a| a == "parse");
    let start = Instant::now();
    for _ in 0..if parse_only { iterations } else { 0 } {
        let doc = wssc_core::Document::parse(&envelope, &wssc_core::Limits::default());
        assert!(doc.is_ok());
    }
    let per = start.elapsed().as_secs_f64() * 1e6 / iterations as f64;
    println!("{size} bytes: {per:.1} us per Document::parse of the envelope");
    let mut total = 0;
    let start = Instant::now();
    for _ in 0..if parse_only { 0 } else { iterations } {
        match protect(&input) {
            Ok(out) => total += out.data.len(),
            Err(e) => panic!("declined: {e}"),
        }
    }
    let per = start.elapsed().as_secs_f64() * 1e6 / iterations as f64;
    println!("{size} bytes: {per:.1} us per protect ({total} bytes written)");
}

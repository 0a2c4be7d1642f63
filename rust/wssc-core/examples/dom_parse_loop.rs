//! `cargo run --release --example dom_parse_loop -- FILE [N]`: parse a document N times into the tree, then
//! canonicalize its document element N times (for timing and profiling).

use std::time::Instant;
use wssc_core::{exc_c14n_node, Document, Limits};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let data = std::fs::read(&args[1]).expect("read the document");
    let n: usize = args.get(2).map_or(20_000, |s| s.parse().expect("a count"));
    let limits = Limits::default();
    let start = Instant::now();
    let mut nodes = 0;
    for _ in 0..n {
        nodes += Document::parse(&data, &limits)
            .expect("parsed")
            .nodes()
            .len();
    }
    let parse = start.elapsed().as_secs_f64() * 1e6 / n as f64;
    let doc = Document::parse(&data, &limits).expect("parsed");
    let start = Instant::now();
    let mut total = 0;
    for _ in 0..n {
        let mut out = Vec::new();
        exc_c14n_node(&doc, doc.root(), &[], &mut out);
        total += out.len();
    }
    let c14n = start.elapsed().as_secs_f64() * 1e6 / n as f64;
    println!(
        "{} bytes, {} nodes: parse {parse:.2} us, c14n of the document element {c14n:.2} us ({} bytes out)",
        data.len(),
        nodes / n,
        total / n
    );
}

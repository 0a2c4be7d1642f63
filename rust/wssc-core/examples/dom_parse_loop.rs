//! `cargo run --release --example dom_parse_loop -- FILE [N]`: parse a document and drop its tree N times,
//! canonicalize the `Body` child of its document element (or the document element) N times and
//! write the document element N times with [`write_node`] (for timing and profiling: each phase is its own
//! function, so that `valgrind --tool=callgrind` reports its instructions inclusively).

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::time::Instant;
use wssc_core::{exc_c14n_node, write_node, Document, Limits, NodeId};

#[inline(never)]
fn phase_parse(data: &[u8], limits: &Limits) -> Document {
    Document::parse(black_box(data), limits).expect("parsed")
}

#[inline(never)]
fn phase_drop(doc: Document) {
    drop(black_box(doc));
}

#[inline(never)]
fn phase_c14n(doc: &Document, node: NodeId, n: usize) -> usize {
    let mut total = 0;
    for _ in 0..n {
        let mut out = Vec::new();
        exc_c14n_node(black_box(doc), node, &[], &mut out);
        total += out.len();
    }
    total
}

#[inline(never)]
fn phase_write(doc: &Document, node: NodeId, n: usize) -> usize {
    let mut total = 0;
    for _ in 0..n {
        let mut out = Vec::new();
        write_node(black_box(doc), node, &mut out);
        total += out.len();
    }
    total
}

fn us(start: Instant, n: usize) -> f64 {
    start.elapsed().as_secs_f64() * 1e6 / n as f64
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let data = std::fs::read(&args[1]).expect("read the document");
    let n: usize = args.get(2).map_or(2_000, |s| s.parse().expect("a count"));
    let limits = Limits::default();
    // parsed and dropped in turn, as a message is (the allocator reuses the blocks)
    let mut parse = 0.0;
    let mut dropped = 0.0;
    let mut nodes = 0;
    for _ in 0..n {
        let start = Instant::now();
        let doc = phase_parse(&data, &limits);
        parse += us(start, n);
        nodes = doc.nodes().len();
        let start = Instant::now();
        phase_drop(doc);
        dropped += us(start, n);
    }
    let doc = Document::parse(&data, &limits).expect("parsed");
    let body = doc
        .child_elements(doc.root())
        .find(|c| doc.element(*c).is_some_and(|e| e.name.local == "Body"))
        .unwrap_or(doc.root());
    let start = Instant::now();
    let c14n_bytes = phase_c14n(&doc, body, n) / n;
    let c14n = us(start, n);
    let start = Instant::now();
    let written = phase_write(&doc, doc.root(), n) / n;
    let write = us(start, n);
    println!(
        "{} bytes, {nodes} nodes: parse {parse:.2} us, drop {dropped:.2} us, c14n of the Body {c14n:.2} us \
         ({c14n_bytes} bytes), write_node of the document element {write:.2} us ({written} bytes)",
        data.len(),
    );
}

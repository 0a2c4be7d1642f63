//! `cargo run --release --example c14n_loop -- FILE ID [N]`: canonicalize one element N times (for profiling).

use std::time::Instant;
use wssc_core::{exc_c14n, Selector};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let data = std::fs::read(&args[1]).expect("read the document");
    let id = &args[2];
    let n: usize = args.get(3).map_or(100_000, |s| s.parse().expect("a count"));
    let start = Instant::now();
    let mut total = 0;
    for _ in 0..n {
        total += exc_c14n(&data, Selector::Id(id), &[])
            .expect("canonicalized")
            .len();
    }
    let elapsed = start.elapsed();
    println!(
        "{:.2} us per call ({} bytes out)",
        elapsed.as_secs_f64() * 1e6 / n as f64,
        total / n
    );
}

//! Times the compiled unprotect (`message::Incoming` parse + verify) on a message file, for profiling:
//! `cargo run --release --example unprotect_loop -- MESSAGE HEXKEY [ITERATIONS]` (a context-protected
//! message and its context key; benchmarks/wss4j_bench.py makes such messages).

use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use wssc_core::message::{Incoming, MessageLimits, Policy};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(path), Some(hex)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: unprotect_loop MESSAGE HEXKEY [ITERATIONS]");
        std::process::exit(2);
    };
    let data = std::fs::read(path).expect("message file");
    let key: Vec<u8> = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex key"))
        .collect();
    let n: u32 = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let policy = Policy {
        encrypted_signature: true,
        ..Policy::default()
    };
    let limits = MessageLimits::default();
    let mut best_parse = f64::MAX;
    let mut best_total = f64::MAX;
    for _ in 0..5 {
        let (mut parse, start) = (0.0, Instant::now());
        for _ in 0..n {
            let t = Instant::now();
            let incoming = Incoming::parse(&data, limits).expect("parse");
            parse += t.elapsed().as_secs_f64();
            incoming
                .verify(std::slice::from_ref(&key), &policy, &mut |_| true)
                .expect("verify");
        }
        best_total = best_total.min(start.elapsed().as_secs_f64() / f64::from(n));
        best_parse = best_parse.min(parse / f64::from(n));
    }
    println!(
        "{} bytes: parse {:.1} us, parse + verify {:.1} us",
        data.len(),
        best_parse * 1e6,
        best_total * 1e6
    );
}

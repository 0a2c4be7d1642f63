//! The per-message layer: the symmetric binding's sender ([`protect`]) over the core's tree.

mod encrypt;
mod envelope;
pub mod options;
pub mod protect;
mod text;
mod writer;

//! base64 as XML Schema base64Binary carries keys, nonces, digests and cipher text (XML-DSig section 6.2,
//! XML-Enc section 3.3), exactly as strict as the Python path (`wssc.primitives.xml.b64decode`).

/// Python's `str.isspace` (what `"".join(text.split())` removes in `wssc.primitives.xml.b64decode`):
/// Unicode White_Space plus the information separators U+001C..U+001F.
pub(crate) fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn b64_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Strict base64 of an element's text (XML Schema base64Binary: whitespace allowed anywhere).
///
/// Accepts a subset of what `wssc.primitives.xml.b64decode` accepts on every Python it supports
/// (`binascii.a2b_base64(strict_mode=True)` after removing whitespace): the standard alphabet, whole
/// quads, `=` padding only to complete the last quad.  Like CPython, non-zero bits left over by the
/// padding are ignored.  An absent or empty text is refused, as there (lxml gives None for it).
pub fn b64decode(text: &str) -> Option<Vec<u8>> {
    if text.is_empty() {
        return None;
    }
    // The common case first: ASCII, canonical padding, no left-over bits, maybe ASCII white space (line
    // breaks).  The base64 crate accepts a subset of what the loop below accepts, with the same result; what
    // it refuses goes through the loop, so the two together accept exactly what the loop accepts.
    use base64::Engine as _;
    let bytes = text.as_bytes();
    if bytes.is_ascii() {
        // Python's white space in ASCII is all at or below U+0020: one comparison a byte finds it.
        let spaced = bytes
            .chunks(64)
            .any(|chunk| chunk.iter().fold(false, |seen, b| seen | (*b <= b' ')));
        let fast = if spaced {
            let kept: Vec<u8> = bytes
                .iter()
                .copied()
                .filter(|b| !is_python_space(char::from(*b)))
                .collect();
            base64::engine::general_purpose::STANDARD.decode(kept)
        } else {
            base64::engine::general_purpose::STANDARD.decode(bytes)
        };
        if let Ok(decoded) = fast {
            return Some(decoded);
        }
    }
    b64decode_loop(text)
}

/// The reference decoder (character by character, Python's white space).
pub(super) fn b64decode_loop(text: &str) -> Option<Vec<u8>> {
    if text.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut quad = [0u8; 4];
    let mut n = 0usize;
    let mut pads = 0usize;
    for c in text.chars() {
        if is_python_space(c) {
            continue;
        }
        if c == '=' {
            // Padding completes a quad holding two or three characters, and nothing follows it.
            if n < 2 || n + pads >= 4 {
                return None;
            }
            pads += 1;
            continue;
        }
        if pads > 0 {
            return None;
        }
        let v = u8::try_from(u32::from(c)).ok().and_then(b64_value)?;
        if let Some(slot) = quad.get_mut(n) {
            *slot = v;
        }
        n += 1;
        if n == 4 {
            out.push((quad[0] << 2) | (quad[1] >> 4));
            out.push((quad[1] << 4) | (quad[2] >> 2));
            out.push((quad[2] << 6) | quad[3]);
            n = 0;
        }
    }
    match (n, pads) {
        (0, 0) => {}
        (2, 2) => out.push((quad[0] << 2) | (quad[1] >> 4)),
        (3, 1) => {
            out.push((quad[0] << 2) | (quad[1] >> 4));
            out.push((quad[1] << 4) | (quad[2] >> 2));
        }
        _ => return None,
    }
    Some(out)
}

/// Standard base64 with padding, no line breaks (`wssc.primitives.xml.b64encode`).
pub fn b64encode(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// [`b64encode`] appended to `out` as bytes (one pass into the output buffer).
pub fn b64encode_into_bytes(data: &[u8], out: &mut Vec<u8>) {
    use base64::Engine as _;
    let start = out.len();
    // Longer than `usize` only for an input near `usize::MAX` bytes, which no allocation holds.
    let Some(len) = base64::encoded_len(data.len(), true) else {
        return;
    };
    out.resize(start + len, 0);
    if let Some(room) = out.get_mut(start..) {
        // `room` has exactly the encoded length, so this cannot fail.
        let _ = base64::engine::general_purpose::STANDARD.encode_slice(data, room);
    }
}

/// [`b64encode`] appended to `out` (one pass into the text being written, no intermediate string).
pub fn b64encode_into(data: &[u8], out: &mut String) {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode_string(data, out);
}

//! Character-level reading and writing: references, attribute-value normalization, line ends, the XML
//! declaration (XML 1.0 fifth edition), and the escaping Canonical XML 1.0 section 2.3 prescribes for text and
//! attribute values.

use std::borrow::Cow;

use crate::names::{is_absolute_uri, is_xml_char};
use crate::{XmlError, XMLNS_NS, XML_NS};

type Result<T> = std::result::Result<T, XmlError>;

fn malformed(why: &str) -> XmlError {
    XmlError::Malformed(why.to_string())
}

fn ns_error(why: &str) -> XmlError {
    XmlError::Namespace(why.to_string())
}

/// A namespace declaration's URI: not a reserved namespace, absolute unless empty.
pub(crate) fn check_namespace_uri(uri: &str) -> Result<()> {
    if uri == XML_NS || uri == XMLNS_NS {
        return Err(ns_error("a reserved namespace bound to a prefix"));
    }
    if !uri.is_empty() && !is_absolute_uri(uri) {
        return Err(XmlError::RelativeNamespace);
    }
    Ok(())
}

/// The character a reference stands for: one of the five predefined entities or a character reference.
pub(crate) fn resolve_reference(name: &str) -> Result<char> {
    match name {
        "amp" => Ok('&'),
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "quot" => Ok('"'),
        "apos" => Ok('\''),
        _ => {
            let Some(number) = name.strip_prefix('#') else {
                return Err(XmlError::Entity);
            };
            let (digits, radix) = match number.strip_prefix('x') {
                Some(hex) => (hex, 16),
                None => (number, 10),
            };
            if digits.is_empty() || digits.len() > 8 || !digits.chars().all(|c| c.is_digit(radix)) {
                return Err(malformed("bad character reference"));
            }
            let code = u32::from_str_radix(digits, radix)
                .map_err(|_| malformed("bad character reference"))?;
            match char::from_u32(code) {
                Some(c) if is_xml_char(c) => Ok(c),
                _ => Err(malformed("character reference to a non-XML character")),
            }
        }
    }
}

/// Whether an attribute value holds a reference, a `<` or a white space character other than the space: a
/// long value (a namespace URI) is searched with `memchr`, a short one byte by byte (cheaper below ~32 bytes).
fn needs_normalizing(bytes: &[u8]) -> bool {
    if bytes.len() >= 32 {
        memchr::memchr3(b'&', b'<', b'\t', bytes).is_some()
            || memchr::memchr2(b'\r', b'\n', bytes).is_some()
    } else {
        bytes
            .iter()
            .any(|b| matches!(b, b'&' | b'<' | b'\t' | b'\r' | b'\n'))
    }
}

/// XML 1.0 section 3.3.3 attribute-value normalization (CDATA type, as without a DTD every attribute is),
/// after section 2.11 line-end normalization: a literal tab, LF, CR or CR LF becomes one space; references
/// are replaced by their character, which is not normalized.
pub(crate) fn normalize_attribute(raw: Cow<'_, str>) -> Result<Cow<'_, str>> {
    if !needs_normalizing(raw.as_bytes()) {
        return Ok(raw);
    }
    let raw: &str = &raw;
    let mut value = String::with_capacity(raw.len());
    let bytes = raw.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'<' => return Err(malformed("'<' in an attribute value")),
            b'&' => {
                value.push_str(&raw[start..i]);
                let end = raw[i..]
                    .find(';')
                    .ok_or_else(|| malformed("unterminated reference"))?
                    + i;
                value.push(resolve_reference(&raw[i + 1..end])?);
                i = end + 1;
                start = i;
            }
            b'\r' | b'\n' | b'\t' => {
                value.push_str(&raw[start..i]);
                value.push(' ');
                i += if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                start = i;
            }
            _ => i += 1,
        }
    }
    value.push_str(&raw[start..]);
    Ok(Cow::Owned(value))
}

/// XML 1.0 section 2.11: a CR LF or a lone CR in literal input is read as one LF.
pub(crate) fn push_normalized_line_ends(out: &mut String, text: &str) {
    if memchr::memchr(b'\r', text.as_bytes()).is_none() {
        out.push_str(text);
        return;
    }
    let mut rest = text;
    while let Some(i) = rest.find('\r') {
        out.push_str(&rest[..i]);
        out.push('\n');
        rest = &rest[i + 1..];
        if let Some(after) = rest.strip_prefix('\n') {
            rest = after;
        }
    }
    out.push_str(rest);
}

/// Character data as Canonical XML writes it: `&`, `<`, `>` and CR escaped (the text is line-end normalized
/// already: a CR left came from a character reference).
pub(crate) fn write_text(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len());
    if memchr::memchr(b'\r', bytes).is_some() {
        write_escaped(out, bytes, text_escape);
        return;
    }
    // the common case: no CR, the three others found by memchr (vectorized) rather than byte by byte
    let mut start = 0;
    for i in memchr::memchr3_iter(b'&', b'<', b'>', bytes) {
        let (Some(run), Some(b)) = (bytes.get(start..i), bytes.get(i)) else {
            break;
        };
        out.extend_from_slice(run);
        out.extend_from_slice(text_escape(*b).unwrap_or_default());
        start = i + 1;
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
}

fn text_escape(b: u8) -> Option<&'static [u8]> {
    match b {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'>' => Some(b"&gt;"),
        b'\r' => Some(b"&#xD;"),
        _ => None,
    }
}

fn attribute_escape(b: u8) -> Option<&'static [u8]> {
    match b {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'"' => Some(b"&quot;"),
        b'\t' => Some(b"&#x9;"),
        b'\n' => Some(b"&#xA;"),
        b'\r' => Some(b"&#xD;"),
        _ => None,
    }
}

/// `bytes` with every byte `escape` maps replaced.
fn write_escaped(out: &mut Vec<u8>, bytes: &[u8], escape: fn(u8) -> Option<&'static [u8]>) {
    let mut start = 0;
    for (i, b) in bytes.iter().enumerate() {
        let Some(replacement) = escape(*b) else {
            continue;
        };
        out.extend_from_slice(bytes.get(start..i).unwrap_or_default());
        out.extend_from_slice(replacement);
        start = i + 1;
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
}

/// An attribute value (normalized) as Canonical XML writes it: `&`, `<`, `"`, tab, LF and CR escaped.
pub(crate) fn write_attribute_value(out: &mut Vec<u8>, value: &str) {
    let bytes = value.as_bytes();
    // no short circuit: the compiler vectorizes this test, and most values have nothing to escape
    let clean = bytes.iter().fold(true, |ok, &b| {
        ok & (b != b'&') & (b != b'<') & (b != b'"') & (b != b'\t') & (b != b'\n') & (b != b'\r')
    });
    if clean {
        out.extend_from_slice(bytes);
    } else {
        write_escaped(out, bytes, attribute_escape);
    }
}
/// A namespace URI as libxml2's c14n writes it (`xmlBufWriteQuotedString`): between double quotes, not
/// escaped.  The URIs accepted ([`is_absolute_uri`]) contain no `"` and no `<`.
pub(crate) fn write_quoted_uri(out: &mut Vec<u8>, uri: &str) {
    out.push(b'"');
    out.extend_from_slice(uri.as_bytes());
    out.push(b'"');
}

/// Every attribute value's closing quote is followed by white space or the end of the tag.  The quotes are
/// found with `memchr` (a tag's values are most of its bytes: namespace URIs, references).
pub(crate) fn attributes_separated(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    let mut i = 0;
    while let Some(open) = bytes
        .get(i..)
        .and_then(|rest| memchr::memchr2(b'"', b'\'', rest))
    {
        let at = i + open;
        let Some(&quote) = bytes.get(at) else {
            return true;
        };
        let Some(len) = bytes
            .get(at + 1..)
            .and_then(|rest| memchr::memchr(quote, rest))
        else {
            return true; // unterminated: quick-xml's attribute reader refuses it
        };
        i = at + len + 2;
        if let Some(next) = bytes.get(i) {
            if !matches!(next, b' ' | b'\t' | b'\r' | b'\n' | b'/') {
                return false;
            }
        }
    }
    true
}

/// Whether character data holds `]]>` (XML 1.0 [14]: not allowed in CharData).  Found from its `>`, rare
/// in text, with `memchr`: a substring search would step through the large base64 texts byte by byte.
pub(crate) fn has_cdata_end(text: &[u8]) -> bool {
    memchr::memchr_iter(b'>', text).any(|at| {
        at.checked_sub(2)
            .and_then(|start| text.get(start..at))
            .is_some_and(|before| before == b"]]")
    })
}

/// XML 1.0 [23]-[32] exactly: `<?xml` S `version` Eq "1.0" (S `encoding` Eq "UTF-8")? (S `standalone` Eq
/// ("yes"|"no"))? S? `?>`, either quote; quick-xml's reader is more lenient, libxml2 is not.  Any other
/// encoding is refused: the core reads UTF-8 only.
pub(crate) fn check_declaration(decl: &str) -> Result<()> {
    let bad = || malformed("bad XML declaration");
    let mut rest = decl.strip_prefix("xml").ok_or_else(bad)?;
    let mut seen: Vec<u8> = Vec::new();
    loop {
        let trimmed = rest.trim_start_matches([' ', '\t', '\r', '\n']);
        if trimmed.is_empty() {
            break;
        }
        if trimmed.len() == rest.len() {
            return Err(bad()); // no white space before a pseudo-attribute
        }
        let (name, after) = trimmed.split_once('=').ok_or_else(bad)?;
        let name = name.trim_end_matches([' ', '\t', '\r', '\n']);
        let after = after.trim_start_matches([' ', '\t', '\r', '\n']);
        let quote = after
            .chars()
            .next()
            .filter(|q| *q == '"' || *q == '\'')
            .ok_or_else(bad)?;
        let (value, tail) = after[1..].split_once(quote).ok_or_else(bad)?;
        let order = match name {
            "version" => 0,
            "encoding" => 1,
            "standalone" => 2,
            _ => return Err(bad()),
        };
        if seen.last().is_some_and(|last| *last >= order) || (seen.is_empty() && order != 0) {
            return Err(bad());
        }
        seen.push(order);
        match order {
            0 if value != "1.0" => return Err(malformed("XML version other than 1.0")),
            1 if !value.eq_ignore_ascii_case("UTF-8") => {
                return Err(XmlError::Encoding("declared encoding other than UTF-8"))
            }
            2 if value != "yes" && value != "no" => return Err(bad()),
            _ => {}
        }
        rest = tail;
    }
    if seen.is_empty() {
        return Err(bad());
    }
    Ok(())
}

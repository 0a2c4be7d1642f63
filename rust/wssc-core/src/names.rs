//! Lexical checks quick-xml leaves to its caller: XML 1.0 (fifth edition) names and characters, qualified
//! names, absolute URIs.

fn is_name_start(c: char) -> bool {
    matches!(c,
        'A'..='Z' | '_' | 'a'..='z'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}' | '\u{370}'..='\u{37D}'
        | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}'
        | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}'
        | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

fn is_name_char(c: char) -> bool {
    is_name_start(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// An NCName: a Name without a colon.
pub fn is_ncname(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c != ':' && is_name_start(c) => chars.all(|c| c != ':' && is_name_char(c)),
        _ => false,
    }
}

/// A Name (colons allowed), as a PI target must be.
pub fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c == ':' || is_name_start(c) => chars.all(|c| c == ':' || is_name_char(c)),
        _ => false,
    }
}

/// Split a QName into (prefix, local part); `None` when it is not a QName (Namespaces in XML 1.0, [7]).
pub fn split_qname(s: &str) -> Option<(&str, &str)> {
    match s.split_once(':') {
        None => is_ncname(s).then_some(("", s)),
        Some((prefix, local)) => (is_ncname(prefix) && is_ncname(local)).then_some((prefix, local)),
    }
}

/// Every character is an XML 1.0 Char: no C0 control but tab, LF and CR; no U+FFFE or U+FFFF (the input
/// is a `str`, so no surrogates either).
pub fn all_chars_allowed(s: &str) -> bool {
    s.bytes().enumerate().all(|(i, b)| match b {
        0x09 | 0x0A | 0x0D => true,
        0x00..=0x1F => false,
        // U+FFFE is EF BF BE and U+FFFF is EF BF BF in UTF-8
        0xEF => {
            !(s.as_bytes().get(i + 1) == Some(&0xBF)
                && matches!(s.as_bytes().get(i + 2), Some(0xBE) | Some(0xBF)))
        }
        _ => true,
    })
}

/// An XML 1.0 Char, for character references.
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// A namespace URI Canonical XML accepts: an absolute URI reference (RFC 3986: a scheme, then only URI
/// characters and well-formed percent escapes).  libxml2's c14n refuses a relative namespace URI (and one it
/// cannot parse); this check is at least as strict, and is applied to every declaration in the document,
/// not only to those of the subtree canonicalized, so no document is read one way here and another there.
pub fn is_absolute_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let mut sc = scheme.bytes();
    if !matches!(sc.next(), Some(b) if b.is_ascii_alphabetic()) {
        return false;
    }
    if !sc.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')) {
        return false;
    }
    let bytes = rest.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            if !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
            {
                return false;
            }
            i += 3;
            continue;
        }
        let ok = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b':'
                    | b'/'
                    | b'?'
                    | b'#'
                    | b'['
                    | b']'
                    | b'@'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
            );
        if !ok {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qnames() {
        assert_eq!(split_qname("a"), Some(("", "a")));
        assert_eq!(split_qname("wsu:Id"), Some(("wsu", "Id")));
        assert_eq!(split_qname("a:b:c"), None);
        assert_eq!(split_qname(":a"), None);
        assert_eq!(split_qname("a:"), None);
        assert_eq!(split_qname("1a"), None);
        assert_eq!(split_qname("é-1.x"), Some(("", "é-1.x")));
    }

    #[test]
    fn uris() {
        assert!(is_absolute_uri("http://www.w3.org/2000/09/xmldsig#"));
        assert!(is_absolute_uri("urn:x"));
        assert!(is_absolute_uri("http://a/?x&y=%20"));
        assert!(!is_absolute_uri("foo"));
        assert!(!is_absolute_uri("foo/bar:baz"));
        assert!(!is_absolute_uri("1x:y"));
        assert!(!is_absolute_uri("http://a b"));
        assert!(!is_absolute_uri("http://a/%2"));
    }

    #[test]
    fn chars() {
        assert!(all_chars_allowed("a\tb\r\n\u{FFFD}"));
        assert!(!all_chars_allowed("a\u{1}"));
        assert!(!all_chars_allowed("\u{FFFE}"));
        assert!(!all_chars_allowed("\u{FFFF}"));
        assert!(is_xml_char('\u{10000}'));
        assert!(!is_xml_char('\u{0}'));
    }
}

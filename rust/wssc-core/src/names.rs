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
    let bytes = s.as_bytes();
    if bytes.is_ascii() {
        // the common case, without decoding
        return match bytes.split_first() {
            Some((first, rest)) => {
                (first.is_ascii_alphabetic() || *first == b'_')
                    && rest
                        .iter()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
            }
            None => false,
        };
    }
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c != ':' && is_name_start(c) => chars.all(|c| c != ':' && is_name_char(c)),
        _ => false,
    }
}

/// Split a QName into (prefix, local part); `None` when it is not a QName (Namespaces in XML 1.0, [7]).
pub fn split_qname(s: &str) -> Option<(&str, &str)> {
    match memchr::memchr(b':', s.as_bytes()) {
        None => is_ncname(s).then_some(("", s)),
        Some(i) => {
            let (prefix, local) = (s.get(..i)?, s.get(i + 1..)?);
            (is_ncname(prefix) && is_ncname(local)).then_some((prefix, local))
        }
    }
}

/// Every character is an XML 1.0 Char: no C0 control but tab, LF and CR; no U+FFFE or U+FFFF (the input
/// is a `str`, so no surrogates either).
pub fn all_chars_allowed(s: &str) -> bool {
    let bytes = s.as_bytes();
    // no short circuit: the compiler vectorizes this
    let controls_ok = bytes.iter().fold(true, |ok, &b| {
        ok & ((b >= 0x20) | (b == 0x09) | (b == 0x0A) | (b == 0x0D))
    });
    // U+FFFE is EF BF BE and U+FFFF is EF BF BF in UTF-8
    controls_ok
        && memchr::memchr_iter(0xEF, bytes).all(|i| {
            !(bytes.get(i + 1) == Some(&0xBF)
                && matches!(bytes.get(i + 2), Some(0xBE) | Some(0xBF)))
        })
}

/// An XML 1.0 Char, for character references.
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// A namespace URI Canonical XML accepts: an absolute URI (RFC 3986 section 3: a scheme, then a hier-part,
/// query and fragment of the grammar's characters, percent escapes well-formed, a port of digits).
///
/// libxml2's parser refuses a namespace URI its RFC 3986 parser cannot read (lxml raises), and its c14n
/// refuses a relative one.  This check is at least as strict as both, and is applied to every declaration in
/// the document, not only to those of the subtree canonicalized, so that no document is read one way here
/// and another there.
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
    let (rest, fragment) = match rest.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (rest, None),
    };
    let (hier, query) = match rest.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (rest, None),
    };
    if !fragment.is_none_or(|f| all_of(f, b"/?:@")) || !query.is_none_or(|q| all_of(q, b"/?:@")) {
        return false;
    }
    match hier.strip_prefix("//") {
        Some(after) => {
            let (authority, path) = match after.find('/') {
                Some(i) => after.split_at(i),
                None => (after, ""),
            };
            is_authority(authority) && all_of(path, b"/:@")
        }
        None => all_of(hier, b"/:@"),
    }
}

/// RFC 3986 section 3.2: `[ userinfo "@" ] host [ ":" port ]`.
fn is_authority(authority: &str) -> bool {
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    if !userinfo.is_none_or(|u| all_of(u, b":")) {
        return false;
    }
    let (host, port) = if let Some(literal) = hostport.strip_prefix('[') {
        let Some((inside, after)) = literal.split_once(']') else {
            return false;
        };
        if inside.is_empty()
            || !inside
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return false;
        }
        match after.strip_prefix(':') {
            Some(port) => ("", Some(port)),
            None if after.is_empty() => ("", None),
            None => return false,
        }
    } else {
        match hostport.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    // libxml2 refuses an empty port ("http://a:/"), which RFC 3986 allows
    all_of(host, b"") && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The characters RFC 3986 allows anywhere in a URI component: unreserved and sub-delims.
const URI_CHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'.'
                    | b'_'
                    | b'~'
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
        b += 1;
    }
    table
};

/// Every character is unreserved, a sub-delim, a well-formed percent escape, or one of `extra`.
fn all_of(part: &str, extra: &[u8]) -> bool {
    let bytes = part.as_bytes();
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
        if !(URI_CHAR[b as usize] || extra.contains(&b)) {
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
        assert!(!is_absolute_uri("http://exam:ple.org/x"));
        assert!(!is_absolute_uri("http://example.://example.org/x"));
        assert!(is_absolute_uri("http://example.org:8080/x#f"));
        assert!(is_absolute_uri("http://u:p@[::1]:80/x"));
        assert!(!is_absolute_uri("http://a/x#f#g"));
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

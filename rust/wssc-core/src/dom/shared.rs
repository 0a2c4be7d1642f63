//! [`XmlStr`], the string type of the names in the tree: shared, so that a parse allocates each distinct
//! namespace URI, prefix and local name of a document once rather than once per element or attribute (a
//! SOAP message repeats a few names hundreds of times).

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// An immutable, cheaply cloned string (`Deref<Target = str>`, compared as a `str`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct XmlStr(Arc<str>);

impl XmlStr {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for XmlStr {
    fn default() -> Self {
        XmlStr(Arc::from(""))
    }
}

impl Deref for XmlStr {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for XmlStr {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for XmlStr {
    fn from(s: &str) -> Self {
        XmlStr(Arc::from(s))
    }
}

impl From<String> for XmlStr {
    fn from(s: String) -> Self {
        XmlStr(Arc::from(s))
    }
}

impl From<&String> for XmlStr {
    fn from(s: &String) -> Self {
        XmlStr(Arc::from(s.as_str()))
    }
}

impl PartialEq<str> for XmlStr {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for XmlStr {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for XmlStr {
    fn eq(&self, other: &String) -> bool {
        &*self.0 == other.as_str()
    }
}

impl fmt::Debug for XmlStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for XmlStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

/// The names a parse has met, each allocated once: a linear search over the first
/// [`Interner::MAX_NAMES`] distinct names (a document has few), past them a fresh string each time.
pub(crate) struct Interner {
    names: Vec<XmlStr>,
    empty: XmlStr,
}

impl Interner {
    /// Enough for the distinct local names of a SOAP message with its security header; a document with
    /// more still parses, its further names allocated one by one.
    const MAX_NAMES: usize = 64;

    pub(crate) fn new() -> Self {
        Interner {
            names: Vec::new(),
            empty: XmlStr::default(),
        }
    }

    pub(crate) fn empty(&self) -> XmlStr {
        self.empty.clone()
    }

    pub(crate) fn get(&mut self, s: &str) -> XmlStr {
        if s.is_empty() {
            return self.empty();
        }
        let (bytes, last) = (s.as_bytes(), s.as_bytes().last());
        // the length and the last byte first: most names that differ differ there, without a memcmp call
        if let Some(found) = self
            .names
            .iter()
            .find(|n| n.len() == s.len() && n.as_bytes().last() == last && n.as_bytes() == bytes)
        {
            return found.clone();
        }
        let new = XmlStr::from(s);
        if self.names.len() < Self::MAX_NAMES {
            self.names.push(new.clone());
        }
        new
    }
}

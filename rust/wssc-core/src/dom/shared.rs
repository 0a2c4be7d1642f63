//! [`XmlStr`], the string type of the names in the tree: shared, so that a parse allocates each distinct
//! namespace URI, prefix and local name of a document once rather than once per element or attribute (a
//! SOAP message repeats a few names hundreds of times).

use std::cell::RefCell;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

thread_local! {
    static NAMES: RefCell<Interner> = RefCell::new(Interner::new());
}

/// `f` with this thread's [`Interner`] (a fresh one should it be in use already, which no caller does).
pub(crate) fn with_names<T>(f: impl FnOnce(&mut Interner) -> T) -> T {
    NAMES.with(|names| match names.try_borrow_mut() {
        Ok(mut names) => f(&mut names),
        Err(_) => f(&mut Interner::new()),
    })
}

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

/// The names the parses of one thread have met (documents, then the fragments decrypted into them), each
/// allocated once: the first [`Interner::MAX_NAMES`] distinct names in a small open-addressing table indexed
/// by a hash of their bytes, past them a fresh string each time.  It also remembers the declared namespace
/// URIs found absolute, so that each is checked once.  One table per thread ([`with_names`]), kept from one
/// document to the next: a peer's messages use the same few dozen names, which are then neither allocated
/// nor freed per message.  Names are immutable strings: sharing them between documents shares nothing else.
#[derive(Debug, Clone)]
pub(crate) struct Interner {
    names: Vec<XmlStr>,
    /// `SLOTS` entries: 0 for free, else 1 + the index of a name in `names` (linear probing)
    slots: Vec<u8>,
    empty: XmlStr,
    /// the declared namespace URIs found absolute so far (interned), at most [`Interner::MAX_CHECKED_URIS`]
    checked_uris: Vec<XmlStr>,
    /// the qualified names met so far, each with its (prefix, local part): (qname, prefix, local)
    qnames: Vec<(XmlStr, XmlStr, XmlStr)>,
    /// `SLOTS` entries for `qnames`, as `slots` for `names`
    qname_slots: Vec<u8>,
}

impl Interner {
    /// Enough for the distinct names of several SOAP messages with their security headers (the table is
    /// one thread's, kept from document to document); past them a name is allocated each time it is met.
    /// At most 254: a slot holds 1 + an index in a byte.
    const MAX_NAMES: usize = 254;
    /// A power of two about twice [`Interner::MAX_NAMES`]: the table is never more than half full, so that a
    /// probe ends after a slot or two.
    const SLOTS: usize = 512;
    /// A document parse starts on a table with no more names than this, or on an empty one: names left by
    /// earlier documents (a peer's junk among them) never fill the table for the next ones.
    const KEPT_NAMES: usize = Self::MAX_NAMES / 2;

    /// Called as a document parse starts: the table is emptied when earlier documents filled it beyond
    /// [`Interner::KEPT_NAMES`] names or qualified names, or [`Interner::MAX_CHECKED_URIS`] URIs.
    pub(crate) fn start_document(&mut self) {
        if self.names.len() > Self::KEPT_NAMES
            || self.qnames.len() > Self::KEPT_NAMES
            || self.checked_uris.len() >= Self::MAX_CHECKED_URIS
        {
            *self = Interner::new();
        }
    }

    pub(crate) fn new() -> Self {
        // the tables are made at their full size at once: grown from empty, one doubling at a time, they cost
        // more than the rest of the parse of a small message
        Interner {
            names: Vec::with_capacity(Self::MAX_NAMES),
            slots: vec![0; Self::SLOTS],
            empty: XmlStr::default(),
            checked_uris: Vec::with_capacity(Self::MAX_CHECKED_URIS),
            qnames: Vec::with_capacity(Self::MAX_NAMES),
            qname_slots: vec![0; Self::SLOTS],
        }
    }

    /// The (prefix, local part) of a qualified name (Namespaces in XML 1.0 [7]), both interned; None when it
    /// is not one.  A name met before is split and checked once per document: a SOAP message repeats a few
    /// tag and attribute names hundreds of times.
    pub(crate) fn qname(&mut self, raw: &str) -> Option<(XmlStr, XmlStr)> {
        let mut slot = Self::slot_of(raw.as_bytes());
        let mut free = None;
        for _ in 0..Self::SLOTS {
            let Some(&entry) = self.qname_slots.get(slot) else {
                break;
            };
            if entry == 0 {
                free = Some(slot);
                break;
            }
            if let Some((q, prefix, local)) = self.qnames.get(usize::from(entry) - 1) {
                if q.as_str() == raw {
                    return Some((prefix.clone(), local.clone()));
                }
            }
            slot = (slot + 1) & (Self::SLOTS - 1);
        }
        let (prefix, local) = crate::names::split_qname(raw)?;
        let (prefix, local) = (self.get(prefix), self.get(local));
        if let (Some(slot), true) = (free, self.qnames.len() < Self::MAX_NAMES) {
            if let (Ok(index), Some(entry)) = (
                u8::try_from(self.qnames.len() + 1),
                self.qname_slots.get_mut(slot),
            ) {
                *entry = index;
                self.qnames
                    .push((XmlStr::from(raw), prefix.clone(), local.clone()));
            }
        }
        Some((prefix, local))
    }

    pub(crate) fn empty(&self) -> XmlStr {
        self.empty.clone()
    }

    /// A slot from the length and three bytes (first, middle, last): constant time whatever the name's
    /// length (namespace URIs are long), and names of one document seldom agree on all four.
    fn slot_of(bytes: &[u8]) -> usize {
        let len = bytes.len();
        let at = |i: usize| usize::from(bytes.get(i).copied().unwrap_or(0));
        let mixed = len
            .wrapping_mul(0x9E37_79B9)
            .wrapping_add(at(0).wrapping_mul(0x85EB_CA6B))
            .wrapping_add(at(len / 2).wrapping_mul(0xC2B2_AE35))
            .wrapping_add(at(len.wrapping_sub(1)).wrapping_mul(0x27D4_EB2F));
        (mixed ^ (mixed >> 15) ^ (mixed >> 29)) & (Self::SLOTS - 1)
    }

    pub(crate) fn get(&mut self, s: &str) -> XmlStr {
        if s.is_empty() {
            return self.empty();
        }
        let bytes = s.as_bytes();
        let mut slot = Self::slot_of(bytes);
        // at most MAX_NAMES slots are taken, so a free one ends every probe
        for _ in 0..Self::SLOTS {
            let Some(&entry) = self.slots.get(slot) else {
                break;
            };
            if entry == 0 {
                let new = XmlStr::from(s);
                if self.names.len() < Self::MAX_NAMES {
                    if let (Ok(index), Some(free)) =
                        (u8::try_from(self.names.len() + 1), self.slots.get_mut(slot))
                    {
                        *free = index;
                        self.names.push(new.clone());
                    }
                }
                return new;
            }
            if let Some(found) = self.names.get(usize::from(entry) - 1) {
                if found.as_bytes() == bytes {
                    return found.clone();
                }
            }
            slot = (slot + 1) & (Self::SLOTS - 1);
        }
        XmlStr::from(s)
    }

    /// The namespace URIs remembered as checked: more than a SOAP message with its security header
    /// declares (about a dozen), few enough that the search stays short whatever the input declares.
    const MAX_CHECKED_URIS: usize = 32;

    /// Whether `uri` (interned by [`Interner::get`]) was found absolute before.
    pub(crate) fn checked(&self, uri: &XmlStr) -> bool {
        self.checked_uris.iter().any(|u| Arc::ptr_eq(&u.0, &uri.0))
    }

    /// Remember `uri` (interned by [`Interner::get`]) as found absolute.
    pub(crate) fn mark_checked(&mut self, uri: XmlStr) {
        if self.checked_uris.len() < Self::MAX_CHECKED_URIS {
            self.checked_uris.push(uri);
        }
    }
}

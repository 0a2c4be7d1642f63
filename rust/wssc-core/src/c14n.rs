//! Exclusive canonicalization of one element subtree, in one streaming pass over the whole document.
//!
//! The whole document is read (and must be well-formed) even when the subtree ends early: the verifier
//! must not canonicalize a document lxml would refuse, and [`Selector::Id`] must see every element to
//! refuse an identifier carried twice.
//!
//! The namespace axis follows libxml2's `xmlExcC14NProcessNamespacesAxis` (which lxml calls) with every
//! node of the subtree visible, which is the exclusive c14n specification's rule: a namespace declaration
//! is written on an element of the output when the element or one of its attributes visibly uses its prefix
//! (or the prefix is on the InclusiveNamespaces PrefixList) and the nearest output ancestor that wrote the
//! prefix wrote another URI for it.

use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

use crate::names::{all_chars_allowed, is_absolute_uri, is_ncname, is_xml_char, split_qname};
use crate::{C14nError, Limits, Selector, WSU_NS, XMLNS_NS, XML_NS};

type Result<T> = std::result::Result<T, C14nError>;

/// Canonicalize the element `target` selects in `document` (exclusive c14n 1.0, comments omitted).
///
/// `inclusive_prefixes` is the InclusiveNamespaces PrefixList: `"#default"` (or `""`) names the default
/// namespace.  The document must be UTF-8 (a UTF-8 BOM is allowed) and is refused on a DTD, an entity
/// reference other than the predefined ones, a namespace error, a relative namespace URI, or the bounds of
/// [`Limits::default`].
pub fn exc_c14n(
    document: &[u8],
    target: Selector<'_>,
    inclusive_prefixes: &[&str],
) -> Result<Vec<u8>> {
    exc_c14n_with_limits(document, target, inclusive_prefixes, &Limits::default())
}

/// [`exc_c14n`] with explicit bounds.
pub fn exc_c14n_with_limits(
    document: &[u8],
    target: Selector<'_>,
    inclusive_prefixes: &[&str],
    limits: &Limits,
) -> Result<Vec<u8>> {
    let mut outputs = exc_c14n_many(
        document,
        &[Target {
            selector: target,
            inclusive_prefixes,
        }],
        limits,
    )?;
    Ok(outputs.pop().unwrap_or_default())
}

/// One element to canonicalize, and its InclusiveNamespaces PrefixList.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub selector: Selector<'a>,
    pub inclusive_prefixes: &'a [&'a str],
}

/// Canonicalize several elements of one document in one pass (a verifier's SignedInfo and every
/// Reference of it): the canonical forms in the order of `targets`.  The subtrees may nest or repeat.
/// Every target must be found ([`C14nError::NotFound`] otherwise).
pub fn exc_c14n_many(
    document: &[u8],
    targets: &[Target<'_>],
    limits: &Limits,
) -> Result<Vec<Vec<u8>>> {
    if document.len() > limits.max_document_bytes {
        return Err(C14nError::TooLarge);
    }
    let document = document.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(document);
    if document.starts_with(b"\xFE\xFF")
        || document.starts_with(b"\xFF\xFE")
        || document.starts_with(b"\0")
    {
        return Err(C14nError::Encoding("UTF-16 or UTF-32 input"));
    }
    let text = std::str::from_utf8(document).map_err(|_| C14nError::Encoding("invalid UTF-8"))?;
    if text.starts_with('\u{FEFF}') {
        // a second BOM is a character before the document element (quick-xml would skip it as a BOM)
        return Err(malformed("text before the document element"));
    }
    if !all_chars_allowed(text) {
        return Err(malformed("a character outside XML 1.0's Char production"));
    }
    let outputs = targets
        .iter()
        .map(|t| Output {
            selector: t.selector,
            // `#default` (or "") names the default namespace, treated as inclusive (the specification,
            // libxml2's own code, WSS4J and .NET).  lxml does the same only once its thread's parser
            // dictionary holds "" (after any document with xmlns=""); before, it drops the entry.  See
            // rust/README.md: wssc's Python path inherits that dependence on history.
            inclusive: t
                .inclusive_prefixes
                .iter()
                .map(|p| if *p == "#default" { "" } else { *p })
                .collect(),
            out: Vec::new(),
            rendered: Vec::new(),
            marks: Vec::new(),
            apex_depth: None,
            found: false,
        })
        .collect();
    let mut canon = Canon {
        outputs,
        limits: *limits,
        scope: Vec::new(),
        frames: Vec::new(),
        path: Vec::new(),
        root_seen: false,
        root_closed: false,
    };
    canon.run(text)?;
    if canon.outputs.iter().any(|o| !o.found) {
        return Err(C14nError::NotFound);
    }
    Ok(canon.outputs.into_iter().map(|o| o.out).collect())
}

fn malformed(why: &str) -> C14nError {
    C14nError::Malformed(why.to_string())
}

fn ns_error(why: &str) -> C14nError {
    C14nError::Namespace(why.to_string())
}

/// One open element.
struct Frame {
    /// length of `Canon::scope` before this element's declarations
    scope_len: usize,
    /// child elements met so far (for [`Selector::Path`])
    children: usize,
}

/// One canonical form being written.
struct Output<'s> {
    selector: Selector<'s>,
    /// the PrefixList, "" for the default namespace
    inclusive: Vec<&'s str>,
    out: Vec<u8>,
    /// libxml2's `ns_rendered` stack: the namespace nodes of the output elements open, innermost last
    rendered: Vec<(String, String)>,
    /// length of `rendered` before each open output element
    marks: Vec<usize>,
    /// depth of the apex while its subtree is being written
    apex_depth: Option<usize>,
    found: bool,
}

/// An attribute other than a namespace declaration, resolved.
struct Attr<'e> {
    qname: &'e str,
    prefix: &'e str,
    local: &'e str,
    uri: &'e str,
    value: Cow<'e, str>,
}

struct Canon<'s> {
    outputs: Vec<Output<'s>>,
    limits: Limits,
    /// namespace declarations in scope, innermost last: (prefix, URI), prefix "" for the default namespace
    /// (URI "" for `xmlns=""`)
    scope: Vec<(String, String)>,
    frames: Vec<Frame>,
    /// child-element indices of the current element from the document element
    path: Vec<usize>,
    root_seen: bool,
    root_closed: bool,
}

impl<'s> Canon<'s> {
    fn run(&mut self, text: &str) -> Result<()> {
        let mut reader = Reader::from_str(text);
        {
            let config = reader.config_mut();
            config.trim_text(false);
            config.expand_empty_elements = false;
            config.check_end_names = true;
            config.check_comments = true;
            config.allow_dangling_amp = false;
            config.allow_unmatched_ends = false;
        }
        let mut first = true;
        loop {
            let event = reader
                .read_event()
                .map_err(|e| C14nError::Malformed(e.to_string()))?;
            let was_first = std::mem::replace(&mut first, false);
            match event {
                Event::Decl(decl) => {
                    if !was_first {
                        return Err(malformed("XML declaration not at the start"));
                    }
                    check_declaration(&decl)?;
                }
                Event::DocType(_) => return Err(C14nError::Dtd),
                Event::PI(pi) => {
                    let target = pi.target();
                    // Namespaces in XML 1.0 section 7: no colon in a PI target (libxml2 refuses one)
                    if !is_ncname(target) || target.eq_ignore_ascii_case("xml") {
                        return Err(malformed("bad processing instruction target"));
                    }
                    // Canonical XML keeps processing instructions (only comments go); inside the
                    // subtree one is written `<?target data?>`, the data after the white space that
                    // separates it from the target, line ends normalized.
                    let content = pi.content();
                    if !content.is_empty() && !content.starts_with([' ', '\t', '\r', '\n']) {
                        return Err(malformed("bad processing instruction"));
                    }
                    let data = content.trim_start_matches([' ', '\t', '\r', '\n']);
                    for out in self.writing() {
                        out.extend_from_slice(b"<?");
                        out.extend_from_slice(target.as_bytes());
                        if !data.is_empty() {
                            out.push(b' ');
                            write_pi_data(out, data);
                        }
                        out.extend_from_slice(b"?>");
                    }
                }
                Event::Comment(_) => {}
                Event::Start(e) => self.start(&e, false)?,
                Event::Empty(e) => self.start(&e, true)?,
                Event::End(e) => self.end(&e)?,
                Event::Text(t) => self.text(&t)?,
                Event::CData(t) => {
                    if self.frames.is_empty() {
                        return Err(malformed("CDATA outside the document element"));
                    }
                    for out in self.writing() {
                        write_text(out, &t, true);
                    }
                }
                Event::GeneralRef(r) => {
                    if self.frames.is_empty() {
                        return Err(malformed("reference outside the document element"));
                    }
                    let c = resolve_reference(&r)?;
                    let mut buf = [0u8; 4];
                    let c: &str = c.encode_utf8(&mut buf);
                    for out in self.writing() {
                        write_text(out, c, false);
                    }
                }
                Event::Eof => break,
            }
        }
        if !self.frames.is_empty() {
            return Err(malformed("unclosed element"));
        }
        if !self.root_seen {
            return Err(malformed("no document element"));
        }
        Ok(())
    }

    /// The buffers of the canonical forms being written.
    fn writing(&mut self) -> impl Iterator<Item = &mut Vec<u8>> + use<'_, 's> {
        self.outputs
            .iter_mut()
            .filter(|o| o.apex_depth.is_some())
            .map(|o| &mut o.out)
    }

    fn text(&mut self, t: &str) -> Result<()> {
        if self.frames.is_empty() {
            // outside the document element only white space (S) may appear
            if !t.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n')) {
                return Err(malformed("text outside the document element"));
            }
            return Ok(());
        }
        if t.contains("]]>") {
            return Err(malformed("']]>' in character data"));
        }
        for out in self.writing() {
            write_text(out, t, true);
        }
        Ok(())
    }

    fn start(&mut self, e: &BytesStart<'_>, empty: bool) -> Result<()> {
        if self.root_closed {
            return Err(malformed("more than one document element"));
        }
        if self.frames.len() >= self.limits.max_depth {
            return Err(C14nError::TooDeep);
        }
        self.root_seen = true;
        let qname: &str = e.name().0;
        let (prefix, local) = split_qname(qname).ok_or_else(|| malformed("bad element name"))?;
        let _ = local;
        if prefix == "xmlns" {
            return Err(ns_error("element in the xmlns namespace"));
        }

        // XML 1.0 [40]/[44]: white space before every attribute (quick-xml reads `a="1"b="2"`)
        if !attributes_separated(e.attributes_raw()) {
            return Err(malformed("attributes not separated by white space"));
        }
        // attributes: namespace declarations into scope, the rest kept for resolution
        let scope_len = self.scope.len();
        let mut raw_attrs: Vec<(&str, Cow<'_, str>)> = Vec::new();
        let mut count = 0usize;
        for attr in e.attributes().with_checks(true) {
            let attr = attr.map_err(|err| C14nError::Malformed(err.to_string()))?;
            count += 1;
            if count > self.limits.max_attributes {
                return Err(C14nError::TooManyAttributes);
            }
            let key: &str = attr.key.0;
            let value = normalize_attribute(attr.value)?;
            if key == "xmlns" {
                check_namespace_uri(&value)?;
                self.scope.push((String::new(), value.into_owned()));
            } else if let Some(declared) = key.strip_prefix("xmlns:") {
                if !is_ncname(declared) {
                    return Err(malformed("bad namespace prefix"));
                }
                if declared == "xmlns" {
                    return Err(ns_error("the xmlns prefix declared"));
                }
                if declared == "xml" {
                    // allowed only as what it is by definition; libxml2 keeps no such declaration
                    if value != XML_NS {
                        return Err(ns_error("the xml prefix bound to another namespace"));
                    }
                    continue;
                }
                if value.is_empty() {
                    return Err(ns_error(
                        "a prefix undeclared (xmlns:p=\"\" is XML 1.1 only)",
                    ));
                }
                check_namespace_uri(&value)?;
                self.scope.push((declared.to_string(), value.into_owned()));
            } else {
                raw_attrs.push((key, value));
            }
        }
        if self.scope.len() > self.limits.max_namespaces_in_scope {
            return Err(C14nError::TooManyNamespaces);
        }

        // The URI a declared prefix is bound to ("" for the default namespace undeclared or absent); None
        // for a prefix not declared.
        let scope = &self.scope;
        let lookup = |prefix: &str| -> Option<&str> {
            if prefix == "xml" {
                return Some(XML_NS);
            }
            scope
                .iter()
                .rev()
                .find(|(p, _)| p == prefix)
                .map(|(_, u)| u.as_str())
        };
        let element_uri = match lookup(prefix) {
            Some(uri) => uri,
            None if prefix.is_empty() => "",
            None => return Err(ns_error("undeclared element prefix")),
        };

        let mut attrs: Vec<Attr<'_>> = Vec::with_capacity(raw_attrs.len());
        for (key, value) in raw_attrs {
            let (aprefix, alocal) =
                split_qname(key).ok_or_else(|| malformed("bad attribute name"))?;
            let uri = if aprefix.is_empty() {
                ""
            } else {
                lookup(aprefix).ok_or_else(|| ns_error("undeclared attribute prefix"))?
            };
            attrs.push(Attr {
                qname: key,
                prefix: aprefix,
                local: alocal,
                uri,
                value,
            });
        }
        // Namespaces in XML 1.0 section 6.3: no two attributes with the same expanded name
        for (i, a) in attrs.iter().enumerate() {
            if !a.prefix.is_empty()
                && attrs[..i]
                    .iter()
                    .any(|b| !b.prefix.is_empty() && b.local == a.local && b.uri == a.uri)
            {
                return Err(ns_error("two attributes with the same expanded name"));
            }
        }

        // selection
        let depth = self.frames.len();
        if let Some(parent) = self.frames.last_mut() {
            self.path.push(parent.children);
            parent.children += 1;
        }
        let mut sorted = false;
        for output in self.outputs.iter_mut() {
            let is_target = match output.selector {
                Selector::DocumentElement => depth == 0,
                Selector::Path(path) => path == self.path.as_slice(),
                Selector::Id(id) => {
                    // wsu:Id, an unqualified Id (XML-Enc, XML-DSig), xml:id
                    let carries = attrs.iter().any(|a| {
                        a.value == id
                            && match a.local {
                                "Id" => a.uri.is_empty() || a.uri == WSU_NS,
                                "id" => a.uri == XML_NS,
                                _ => false,
                            }
                    });
                    if carries && output.found {
                        return Err(C14nError::DuplicateId);
                    }
                    carries
                }
            };
            if is_target && !output.found {
                output.found = true;
                output.apex_depth = Some(depth);
            }
            if output.apex_depth.is_some() {
                if !sorted {
                    // attributes: by namespace URI (none first), then local name
                    attrs.sort_by(|a, b| {
                        (a.uri.as_bytes(), a.local.as_bytes())
                            .cmp(&(b.uri.as_bytes(), b.local.as_bytes()))
                    });
                    sorted = true;
                }
                output.write_start(scope, qname, prefix, element_uri, &attrs);
            }
        }
        self.frames.push(Frame {
            scope_len,
            children: 0,
        });
        if empty {
            self.close(qname);
        }
        Ok(())
    }

    fn end(&mut self, e: &quick_xml::events::BytesEnd<'_>) -> Result<()> {
        // quick-xml checked that the name matches the start tag's (check_end_names)
        if self.frames.is_empty() {
            return Err(malformed("end tag without start tag"));
        }
        let name: &str = e;
        self.close(name);
        Ok(())
    }

    fn close(&mut self, qname: &str) {
        if let Some(frame) = self.frames.pop() {
            let depth = self.frames.len();
            for output in self.outputs.iter_mut() {
                if let Some(apex) = output.apex_depth {
                    output.out.extend_from_slice(b"</");
                    output.out.extend_from_slice(qname.as_bytes());
                    output.out.push(b'>');
                    let mark = output.marks.pop().unwrap_or(0);
                    output.rendered.truncate(mark);
                    if apex == depth {
                        output.apex_depth = None;
                    }
                }
            }
            self.scope.truncate(frame.scope_len);
            self.path.pop();
        }
        if self.frames.is_empty() {
            self.root_closed = true;
        }
    }
}

impl Output<'_> {
    /// libxml2's `xmlExcC14NVisibleNsStackFind`, every node visible: was (prefix, uri) written by the nearest
    /// output ancestor (or this element) that wrote the prefix?  An empty default namespace counts as
    /// written at the top.
    fn already_rendered(&self, prefix: &str, uri: &str) -> bool {
        match self.rendered.iter().rev().find(|(p, _)| p == prefix) {
            Some((_, u)) => u == uri,
            None => prefix.is_empty() && uri.is_empty(),
        }
    }

    fn write_start(
        &mut self,
        scope: &[(String, String)],
        qname: &str,
        prefix: &str,
        element_uri: &str,
        attrs: &[Attr<'_>],
    ) {
        self.marks.push(self.rendered.len());
        let mut list: Vec<(String, String)> = Vec::new();
        let mut has_empty_ns = false;
        let mut has_empty_ns_in_inclusive_list = false;
        let mut has_visibly_utilized_empty_ns = false;

        // InclusiveNamespaces PrefixList: these prefixes are handled as in Canonical XML (inclusive)
        for i in 0..self.inclusive.len() {
            let p = self.inclusive[i];
            if p.is_empty() {
                has_empty_ns_in_inclusive_list = true;
            }
            if p == "xml" {
                continue;
            }
            if let Some(uri) = scope
                .iter()
                .rev()
                .find(|(q, _)| q == p)
                .map(|(_, u)| u.clone())
            {
                let already = self.already_rendered(p, &uri);
                if !already {
                    list.push((p.to_string(), uri.clone()));
                }
                self.rendered.push((p.to_string(), uri));
                if p.is_empty() {
                    has_empty_ns = true;
                }
            }
        }

        // the element's own namespace
        let own: Option<(String, String)> = if !prefix.is_empty() {
            (prefix != "xml").then(|| (prefix.to_string(), element_uri.to_string()))
        } else if !element_uri.is_empty() {
            Some((String::new(), element_uri.to_string()))
        } else {
            has_visibly_utilized_empty_ns = true;
            // an unqualified element in no namespace: the nearest default declaration, xmlns="" if any
            scope.iter().rev().find(|(q, _)| q.is_empty()).cloned()
        };
        if let Some((p, uri)) = own {
            if !self.already_rendered(&p, &uri) {
                list.push((p.clone(), uri.clone()));
            }
            if p.is_empty() {
                has_empty_ns = true;
            }
            self.rendered.push((p, uri));
        }

        // the prefixes of the attributes
        for a in attrs.iter() {
            if a.prefix.is_empty() || a.prefix == "xml" {
                continue;
            }
            if !self.already_rendered(a.prefix, a.uri) {
                list.push((a.prefix.to_string(), a.uri.to_string()));
            }
            self.rendered
                .push((a.prefix.to_string(), a.uri.to_string()));
        }

        // xmlns="": the default namespace is empty here but an output ancestor wrote another one
        // (libxml2's two branches: the element is in no namespace and #default is not on the PrefixList, or
        // #default is on the PrefixList; either way only when no default namespace node was written above)
        let undeclare_default = !has_empty_ns
            && (has_visibly_utilized_empty_ns || has_empty_ns_in_inclusive_list)
            && !self.already_rendered("", "");
        let out = &mut self.out;
        out.push(b'<');
        out.extend_from_slice(qname.as_bytes());
        if undeclare_default {
            out.extend_from_slice(b" xmlns=\"\"");
        }
        list.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        list.dedup_by(|a, b| a.0 == b.0);
        for (p, uri) in &list {
            if p.is_empty() {
                out.extend_from_slice(b" xmlns=");
            } else {
                out.extend_from_slice(b" xmlns:");
                out.extend_from_slice(p.as_bytes());
                out.push(b'=');
            }
            write_quoted_uri(out, uri);
        }
        // attributes: sorted by the caller
        for a in attrs.iter() {
            out.push(b' ');
            out.extend_from_slice(a.qname.as_bytes());
            out.extend_from_slice(b"=\"");
            write_attribute_value(out, &a.value);
            out.push(b'"');
        }
        out.push(b'>');
    }
}

fn check_namespace_uri(uri: &str) -> Result<()> {
    if uri == XML_NS || uri == XMLNS_NS {
        return Err(ns_error("a reserved namespace bound to a prefix"));
    }
    if !uri.is_empty() && !is_absolute_uri(uri) {
        return Err(C14nError::RelativeNamespace);
    }
    Ok(())
}

/// The character a reference stands for: one of the five predefined entities or a character reference.
fn resolve_reference(name: &str) -> Result<char> {
    match name {
        "amp" => Ok('&'),
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "quot" => Ok('"'),
        "apos" => Ok('\''),
        _ => {
            let Some(number) = name.strip_prefix('#') else {
                return Err(C14nError::Entity);
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

/// XML 1.0 section 3.3.3 attribute-value normalization (CDATA type, as without a DTD every attribute is),
/// after section 2.11 line-end normalization: a literal tab, LF, CR or CR LF becomes one space; references
/// are replaced by their character, which is not normalized.
fn normalize_attribute(raw: Cow<'_, str>) -> Result<Cow<'_, str>> {
    if !raw
        .bytes()
        .any(|b| matches!(b, b'&' | b'<' | b'\t' | b'\r' | b'\n'))
    {
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

/// Character data as Canonical XML writes it: `&`, `<`, `>` and CR escaped.  Literal input (text, CDATA)
/// is line-end normalized first (XML 1.0 section 2.11: a CR LF or a lone CR is read as one LF); a CR that
/// came from a character reference `&#xD;` is kept and written `&#xD;`.
fn write_text(out: &mut Vec<u8>, text: &str, literal: bool) {
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let replacement: &[u8] = match bytes[i] {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'\r' if !literal => b"&#xD;",
            b'\r' => {
                if bytes.get(i + 1) == Some(&b'\n') {
                    // CR LF: drop the CR, the LF follows as it is
                    out.extend_from_slice(&bytes[start..i]);
                    i += 1;
                    start = i;
                    continue;
                }
                b"\n"
            }
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(replacement);
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// An attribute value (normalized) as Canonical XML writes it: `&`, `<`, `"`, tab, LF and CR escaped.
fn write_attribute_value(out: &mut Vec<u8>, value: &str) {
    let bytes = value.as_bytes();
    let mut start = 0;
    for (i, b) in bytes.iter().enumerate() {
        let replacement: &[u8] = match b {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'"' => b"&quot;",
            b'\t' => b"&#x9;",
            b'\n' => b"&#xA;",
            b'\r' => b"&#xD;",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(replacement);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// A namespace URI as libxml2's c14n writes it (`xmlBufWriteQuotedString`): between double quotes, not
/// escaped.  The URIs accepted ([`is_absolute_uri`]) contain no `"` and no `<`.
fn write_quoted_uri(out: &mut Vec<u8>, uri: &str) {
    out.push(b'"');
    out.extend_from_slice(uri.as_bytes());
    out.push(b'"');
}

/// Processing-instruction data, line-end normalized (libxml2 would write a CR left after that as `&#xD;`;
/// none is left).
fn write_pi_data(out: &mut Vec<u8>, data: &str) {
    let bytes = data.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\r' {
            out.push(b'\n');
            i += if bytes.get(i + 1) == Some(&b'\n') {
                2
            } else {
                1
            };
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
}

/// Every attribute value's closing quote is followed by white space or the end of the tag.
fn attributes_separated(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let quote = bytes[i];
        if quote == b'"' || quote == b'\'' {
            let Some(len) = bytes[i + 1..].iter().position(|b| *b == quote) else {
                return true; // unterminated: quick-xml's attribute reader refuses it
            };
            i += len + 2;
            if let Some(next) = bytes.get(i) {
                if !matches!(next, b' ' | b'\t' | b'\r' | b'\n' | b'/') {
                    return false;
                }
            }
        } else {
            i += 1;
        }
    }
    true
}

/// XML 1.0 [23]-[32] exactly: `<?xml` S `version` Eq "1.0" (S `encoding` Eq "UTF-8")? (S `standalone` Eq
/// ("yes"|"no"))? S? `?>`, either quote; quick-xml's reader is more lenient, libxml2 is not.  Any other
/// encoding is refused: the core reads UTF-8 only.
fn check_declaration(decl: &str) -> Result<()> {
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
                return Err(C14nError::Encoding("declared encoding other than UTF-8"))
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

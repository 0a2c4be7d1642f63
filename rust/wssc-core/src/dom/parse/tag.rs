//! A start tag: its attributes and namespace declarations checked (XML 1.0 section 3.1, Namespaces in XML
//! 1.0 sections 3-6) and the element added to the tree (`Builder::start`).

use quick_xml::events::BytesStart;

use super::{malformed, ns_error, Builder, Result};
use crate::dom::{Attribute, ElementData, Name, NodeKind, XmlStr};
use crate::xmltext::{attributes_separated, normalize_attribute};
use crate::{XmlError, XML_NS};

impl Builder<'_> {
    pub(super) fn start(&mut self, e: &BytesStart<'_>, empty: bool) -> Result<()> {
        if self.root_closed {
            return Err(malformed("more than one document element"));
        }
        if self.base_depth + self.open.len() >= self.limits.max_depth {
            return Err(XmlError::TooDeep);
        }
        let qname: &str = e.name().0;
        let (prefix, local) = self
            .names
            .qname(qname)
            .ok_or_else(|| malformed("bad element name"))?;
        if prefix == "xmlns" {
            return Err(ns_error("element in the xmlns namespace"));
        }
        // XML 1.0 [40]/[44]: white space before every attribute (quick-xml reads `a="1"b="2"`)
        if !attributes_separated(e.attributes_raw()) {
            return Err(malformed("attributes not separated by white space"));
        }
        // attributes: namespace declarations into scope, the rest kept for resolution
        let scope_len = self.scope.len();
        let mut declarations: Vec<(XmlStr, XmlStr)> = Vec::new();
        let mut attributes: Vec<Attribute> = Vec::new();
        let mut count = 0usize;
        let mut xml_declared = false;
        // XML 1.0 section 3.1 (Unique Att Spec) is checked here rather than by quick-xml, without its
        // allocation per tag
        let duplicate = || malformed("an attribute repeated in one tag");
        for attr in e.attributes().with_checks(false) {
            let attr = attr.map_err(|err| XmlError::Malformed(err.to_string()))?;
            count += 1;
            if count > self.limits.max_attributes {
                return Err(XmlError::TooManyAttributes);
            }
            let key: &str = attr.key.0;
            if key == "xmlns" {
                let value = normalize_attribute(attr.value)?;
                let uri = self.check_uri(&value)?;
                declarations.push((self.names.empty(), uri));
            } else if key.starts_with("xmlns:") {
                // the declared prefix is the local part of the QName `xmlns:p`, split and checked once per
                // name by the interner (Namespaces in XML 1.0 [3]: an NCName)
                let Some((_, declared)) = self.names.qname(key) else {
                    return Err(malformed("bad namespace prefix"));
                };
                if declared == "xml" && std::mem::replace(&mut xml_declared, true) {
                    return Err(duplicate());
                }
                let value = normalize_attribute(attr.value)?;
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
                let uri = self.check_uri(&value)?;
                declarations.push((declared, uri));
            } else {
                let (prefix, local) = self
                    .names
                    .qname(key)
                    .ok_or_else(|| malformed("bad attribute name"))?;
                let value = normalize_attribute(attr.value)?;
                attributes.push(Attribute {
                    name: Name {
                        prefix,
                        local,
                        ns: self.names.empty(), // resolved once every declaration is in scope
                    },
                    value: value.into_owned(),
                });
            }
        }
        if repeated(&declarations, |(p, _)| Some(p.as_str()))
            || repeated(&attributes, |a| {
                Some((a.name.prefix.as_str(), a.name.local.as_str()))
            })
        {
            return Err(duplicate());
        }
        self.scope.extend(declarations.iter().cloned());
        if self.scope.len() > self.limits.max_namespaces_in_scope {
            return Err(XmlError::TooManyNamespaces);
        }
        let ns = match self.lookup(&prefix) {
            Some(uri) => uri,
            None if prefix.is_empty() => self.names.empty(),
            None => return Err(ns_error("undeclared element prefix")),
        };
        for a in attributes.iter_mut() {
            if !a.name.prefix.is_empty() {
                let uri = self
                    .lookup(&a.name.prefix)
                    .ok_or_else(|| ns_error("undeclared attribute prefix"))?;
                a.name.ns = uri;
            }
        }
        // Namespaces in XML 1.0 section 6.3: no two attributes with the same expanded name
        if repeated(&attributes, |a| {
            (!a.name.prefix.is_empty()).then_some((a.name.ns.as_str(), a.name.local.as_str()))
        }) {
            return Err(ns_error("two attributes with the same expanded name"));
        }
        let id = self.add(NodeKind::Element(ElementData {
            name: Name { prefix, local, ns },
            attributes,
            namespace_declarations: declarations,
            children: Vec::new(),
        }));
        self.open.push((id, scope_len, self.children.len()));
        if empty {
            self.close();
        }
        Ok(())
    }
}

/// Whether two of `items` have the same key (items without a key aside).  A tag may carry up to
/// [`Limits::max_attributes`] attributes: past a few, the keys are sorted rather than compared pairwise, so
/// that a document of tags with hundreds of attributes costs no more than its size.
fn repeated<'a, T, K: Ord + 'a>(items: &'a [T], key: impl Fn(&'a T) -> Option<K>) -> bool {
    if items.len() < 2 {
        return false;
    }
    if items.len() <= 8 {
        return items.iter().enumerate().any(|(i, a)| {
            key(a).is_some_and(|k| items.iter().take(i).any(|b| key(b).as_ref() == Some(&k)))
        });
    }
    let mut keys: Vec<K> = items.iter().filter_map(key).collect();
    keys.sort_unstable();
    keys.windows(2).any(|w| matches!(w, [a, b] if a == b))
}

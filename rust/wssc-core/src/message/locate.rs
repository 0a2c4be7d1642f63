//! Phase 1 of unprotect after the parse (`soap.split`, `unprotect._find_security`,
//! `HeaderProcessor.index_positions`, the Timestamp's structure) and the contexts the message names
//! (`TokenKeys._context`), which the glue resolves before phase 2.

use std::collections::HashMap;

use super::tokens::{self, Str, Target};
use super::xml::{self, elements, lxml_len};
use super::{
    ContextName, Declined, Incoming, MessageLimits, Result, SOAP11, SOAP12, WSSE, WSU, XENC,
};
use crate::dom::{Document, NodeId};

pub(super) fn index(doc: &Document, ids: &mut HashMap<String, NodeId>, el: NodeId) -> Result<()> {
    for value in [doc.attribute(el, WSU, "Id"), doc.attribute(el, "", "Id")]
        .into_iter()
        .flatten()
    {
        if value.is_empty() {
            return Err(Declined("an empty id"));
        }
        match ids.get(value) {
            Some(known) if *known != el => return Err(Declined("duplicate id")),
            Some(_) => {}
            None => {
                ids.insert(value.to_owned(), el);
            }
        }
    }
    Ok(())
}

/// Add a context name to the list, one Identifier per message (`TokenKeys._context`; two contexts are
/// refused by the Python path once both are used, declined here as soon as both are named).
fn add_context(contexts: &mut Vec<ContextName>, name: ContextName) -> Result<()> {
    match contexts.first_mut() {
        None => contexts.push(name),
        Some(known) if known.identifier != name.identifier => {
            return Err(Declined("more than one context"))
        }
        Some(known) => {
            if known.instance != name.instance {
                return Err(Declined("one context named with two Instances"));
            }
            // The Python path tells each key the version of the reference it was resolved through (a
            // reference without ValueType: none); one context named with and without its version is left to it.
            if known.namespace != name.namespace {
                return Err(Declined("one context named in two versions"));
            }
        }
    }
    Ok(())
}

/// The external references (SCT Identifiers) in the subtree at `root`.
fn collect_references(doc: &Document, root: NodeId, contexts: &mut Vec<ContextName>) -> Result<()> {
    let mut stack = vec![root];
    while let Some(n) = stack.pop() {
        if doc.is(n, WSSE, "SecurityTokenReference") {
            if let Ok(Str {
                target:
                    Target::External {
                        uri,
                        value_type,
                        instance,
                    },
                ..
            }) = tokens::parse_str(doc, n)
            {
                let namespace = tokens::external_version(value_type.as_deref())?;
                add_context(
                    contexts,
                    ContextName {
                        identifier: uri,
                        instance,
                        namespace,
                    },
                )?;
            }
            continue;
        }
        stack.extend(doc.child_elements(n));
    }
    Ok(())
}

/// Phase 1 after the parse: `soap.split`, `_find_security`, `index_positions`, the Timestamp, the contexts.
pub(super) fn locate(doc: Document, size: usize, limits: MessageLimits) -> Result<Incoming> {
    let envelope = doc.root();
    let soap = [SOAP11, SOAP12]
        .into_iter()
        .find(|ns| doc.is(envelope, ns, "Envelope"))
        .ok_or(Declined("not a SOAP envelope"))?;
    let parts = elements(&doc, envelope);
    let (Some(&header), Some(&body), None) = (parts.first(), parts.get(1), parts.get(2)) else {
        return Err(Declined("not an Envelope of Header and Body"));
    };
    if !doc.is(header, soap, "Header") || !doc.is(body, soap, "Body") {
        return Err(Declined("not an Envelope of Header and Body"));
    }
    // The output is read in the Envelope's and the Header's scope: a default namespace there would change
    // how a parser reads an unprefixed signed part (docs/core.md, point 3).  Processing instructions and
    // text other than white space between the parts are odd: declined.
    for el in [envelope, header] {
        if doc.lookup_namespace(el, "").is_some_and(|u| !u.is_empty()) {
            return Err(Declined(
                "a default namespace in scope at the Envelope or Header",
            ));
        }
        if lxml_len(&doc, el) != elements(&doc, el).len() || !xml::only_space_text(&doc, el) {
            return Err(Declined(
                "text or a processing instruction between the SOAP parts",
            ));
        }
    }
    let mut security = None;
    for block in doc.child_elements(header) {
        if doc.is(block, WSSE, "Security") {
            if security.is_some() {
                return Err(Declined("more than one Security header"));
            }
            if doc.attribute(block, SOAP11, "actor").is_some()
                || doc.attribute(block, SOAP12, "role").is_some()
            {
                return Err(Declined("a Security header with an actor or role"));
            }
            security = Some(block);
        }
    }
    let security = security.ok_or(Declined("no Security header"))?;
    if lxml_len(&doc, security) > limits.max_security_header_elements {
        return Err(Declined("too many elements in the Security header"));
    }

    let mut ids = HashMap::new();
    index(&doc, &mut ids, body)?;
    for content in doc
        .child_elements(body)
        .filter(|c| doc.is(*c, XENC, "EncryptedData"))
    {
        index(&doc, &mut ids, content)?;
    }
    for block in doc.child_elements(header) {
        index(&doc, &mut ids, block)?;
    }
    for child in doc.child_elements(security) {
        index(&doc, &mut ids, child)?;
    }

    let stamps: Vec<NodeId> = doc
        .child_elements(security)
        .filter(|c| doc.is(*c, WSU, "Timestamp"))
        .collect();
    let timestamp = match stamps.as_slice() {
        [] => None,
        [one] => Some(read_timestamp(&doc, *one)?),
        _ => return Err(Declined("more than one Timestamp")),
    };

    let mut contexts = Vec::new();
    for child in doc.child_elements(security) {
        if xml::sc_version_of(&doc, child, "SecurityContextToken").is_some() {
            add_context(&mut contexts, tokens::parse_sct(&doc, child)?.name)?;
        }
    }
    collect_references(&doc, security, &mut contexts)?;
    let outside = doc
        .child_elements(body)
        .chain(doc.child_elements(header))
        .filter(|c| doc.is(*c, XENC, "EncryptedData"));
    for ed in outside.collect::<Vec<_>>() {
        collect_references(&doc, ed, &mut contexts)?;
    }
    Ok(Incoming {
        doc,
        size,
        limits,
        soap,
        envelope,
        header,
        body,
        security,
        ids,
        timestamp,
        contexts,
    })
}

/// `Timestamp.from_element`'s structure (Created, then optionally Expires); the glue parses the times.
fn read_timestamp(doc: &Document, el: NodeId) -> Result<(String, Option<String>, Option<String>)> {
    let children = elements(doc, el);
    let created = match children.as_slice() {
        [c] | [c, _] if doc.is(*c, WSU, "Created") => {
            xml::text(doc, *c)?.unwrap_or_default().into_owned()
        }
        _ => {
            return Err(Declined(
                "wsu:Timestamp must hold Created, then optionally Expires",
            ))
        }
    };
    let expires = match children.get(1) {
        Some(e) if doc.is(*e, WSU, "Expires") => {
            Some(xml::text(doc, *e)?.unwrap_or_default().into_owned())
        }
        Some(_) => return Err(Declined("unexpected element in wsu:Timestamp")),
        None => None,
    };
    Ok((
        created,
        expires,
        doc.attribute(el, WSU, "Id").map(str::to_owned),
    ))
}

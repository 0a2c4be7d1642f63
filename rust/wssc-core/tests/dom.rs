//! Unit tests of the document tree: parse, navigation, fragments (XML-Enc 4.5), mutation, the writer.

use wssc_core::{
    exc_c14n_node, write_node, Attribute, Document, Limits, Name, NodeKind, XmlError, WSU_NS,
};

fn parse(doc: &str) -> Document {
    Document::parse(doc.as_bytes(), &Limits::default()).unwrap()
}

fn written(doc: &Document, id: usize) -> String {
    let mut out = Vec::new();
    write_node(doc, id, &mut out);
    String::from_utf8(out).unwrap()
}

fn canonical(doc: &Document, id: usize) -> String {
    let mut out = Vec::new();
    exc_c14n_node(doc, id, &[], &mut out);
    String::from_utf8(out).unwrap()
}

fn name(prefix: &str, local: &str, ns: &str) -> Name {
    Name {
        prefix: prefix.into(),
        local: local.into(),
        ns: ns.into(),
    }
}

const ENVELOPE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<?top pi?>
<s:Envelope xmlns:s="urn:s" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"><s:Header><h xmlns="urn:h" a="1" wsu:Id="h1">x<!-- c -->y<![CDATA[<z>]]>&amp;&#x41;<?keep me?></h></s:Header><s:Body xmlns="urn:d"><p xmlns=""><q/></p></s:Body></s:Envelope>"#;

#[test]
fn navigation() {
    let doc = parse(ENVELOPE);
    let root = doc.root();
    assert!(doc.is(root, "urn:s", "Envelope"));
    assert_eq!(doc.parent(root), None);
    assert_eq!(doc.depth(root), 1);
    let children: Vec<_> = doc.child_elements(root).collect();
    assert_eq!(children.len(), 2);
    let (header, body) = (children[0], children[1]);
    assert!(doc.is(header, "urn:s", "Header") && doc.is(body, "urn:s", "Body"));
    let h = doc.child_elements(header).next().unwrap();
    assert_eq!(doc.parent(h), Some(header));
    assert_eq!(doc.depth(h), 3);
    assert!(doc.is(h, "urn:h", "h"));
    assert_eq!(doc.attribute(h, "", "a"), Some("1"));
    assert_eq!(doc.attribute(h, WSU_NS, "Id"), Some("h1"));
    assert_eq!(doc.attribute(h, "", "Id"), None);
    // xmlns is not an attribute; it is a declaration of its element
    let e = doc.element(h).unwrap();
    assert_eq!(e.attributes.len(), 2);
    assert_eq!(e.namespace_declarations, vec![("".into(), "urn:h".into())]);
    // the comment is gone: one text node, CDATA and references merged into it; the PI stays
    assert_eq!(doc.children(h).len(), 2);
    assert_eq!(doc.text(h), "xy<z>&A");
    match &doc.node(doc.children(h)[1]).kind {
        NodeKind::Pi { target, data } => {
            assert_eq!((target.as_str(), data.as_str()), ("keep", "me"))
        }
        other => panic!("{other:?}"),
    }
    // namespaces in scope
    assert_eq!(doc.lookup_namespace(h, "s"), Some("urn:s"));
    assert_eq!(doc.lookup_namespace(h, ""), Some("urn:h"));
    assert_eq!(doc.lookup_namespace(h, "nope"), None);
    assert_eq!(doc.lookup_namespace(h, "xml"), Some(wssc_core::XML_NS));
    let p = doc.child_elements(body).next().unwrap();
    let q = doc.child_elements(p).next().unwrap();
    assert!(doc.is(q, "", "q"));
    assert_eq!(doc.lookup_namespace(q, ""), Some(""));
    assert_eq!(doc.lookup_namespace(root, ""), None);
}

#[test]
fn line_ends_and_references_in_text() {
    let doc = parse("<a>1\r\n2\r3&#xD;4<!--x-->\r<!--y-->\n</a>");
    assert_eq!(doc.text(doc.root()), "1\n2\n3\r4\n\n");
    assert_eq!(doc.children(doc.root()).len(), 1);
}

#[test]
fn parse_refusals_are_c14n_refusals() {
    let limits = Limits::default();
    for (input, expected) in [
        (&b"<!DOCTYPE a><a/>"[..], XmlError::Dtd),
        (b"<a>&e;</a>", XmlError::Entity),
        (
            b"<?xml version='1.0' encoding='latin-1'?><a/>",
            XmlError::Encoding("declared encoding other than UTF-8"),
        ),
        (
            b"<p:a/>",
            XmlError::Namespace("undeclared element prefix".into()),
        ),
        (b"<a xmlns='rel'/>", XmlError::RelativeNamespace),
    ] {
        assert_eq!(Document::parse(input, &limits).unwrap_err(), expected);
    }
    assert!(matches!(
        Document::parse(
            b"<a xmlns:p='urn:p' xmlns:q='urn:p' p:x='1' q:x='2'/>",
            &limits
        ),
        Err(XmlError::Namespace(_))
    ));
    assert!(matches!(
        Document::parse(b"<a x='1'y='2'/>", &limits),
        Err(XmlError::Malformed(_))
    ));
    assert!(matches!(
        Document::parse(b"<a/><b/>", &limits),
        Err(XmlError::Malformed(_))
    ));
    assert!(matches!(
        Document::parse(b"", &limits),
        Err(XmlError::Malformed(_))
    ));
}

#[test]
fn fragment_in_namespace_context() {
    let mut doc = parse(r#"<a xmlns="urn:d" xmlns:p="urn:p"><b xmlns:q="urn:q"><E/></b></a>"#);
    let b = doc.child_elements(doc.root()).next().unwrap();
    let e = doc.child_elements(b).next().unwrap();
    let nodes = doc
        .parse_fragment(
            b"t1<p:x q:y='1'><z/></p:x>&lt;t2<?pi d?>",
            e,
            &Limits::default(),
        )
        .unwrap();
    assert_eq!(nodes.len(), 4);
    for n in &nodes {
        assert_eq!(doc.parent(*n), Some(e));
    }
    assert!(doc.children(e).is_empty(), "not inserted yet");
    let x = nodes[1];
    assert!(doc.is(x, "urn:p", "x"));
    assert_eq!(doc.attribute(x, "urn:q", "y"), Some("1"));
    let z = doc.child_elements(x).next().unwrap();
    assert!(
        doc.is(z, "urn:d", "z"),
        "the default namespace of the context"
    );
    assert_eq!(doc.depth(z), 5);
    assert!(matches!(&doc.node(nodes[2]).kind, NodeKind::Text(t) if t == "<t2"));
    // the context's xmlns="" holds too
    let mut doc = parse(r#"<a xmlns="urn:d"><b xmlns=""/></a>"#);
    let b = doc.child_elements(doc.root()).next().unwrap();
    let nodes = doc.parse_fragment(b"<c/>", b, &Limits::default()).unwrap();
    assert!(doc.is(nodes[0], "", "c"));
}

#[test]
fn fragment_refusals() {
    let mut doc = parse(r#"<a xmlns:p="urn:p"><b/></a>"#);
    let b = doc.child_elements(doc.root()).next().unwrap();
    let before = doc.nodes().len();
    let limits = Limits::default();
    for input in [
        &b"</a><a>"[..],
        b"<a>",
        b"<a></b>",
        b"</b>",
        b"<?xml version='1.0'?><a/>",
        b"<!DOCTYPE a><a/>",
        b"\xEF\xBB\xBF<a/>",
        b"<q:a/>",
        b"&ent;",
        b"x]]>y",
        b"<a xmlns:r='relative'/>",
        b"\xFF",
        // what wssc's Python path refuses in decrypted data, even where XML would allow it
        b"<a><![CDATA[<!DOCTYPE]]></a>",
        b"<a><![CDATA[<!ENTITY]]></a>",
        b"<?xml-stylesheet href='x'?><a/>",
    ] {
        assert!(doc.parse_fragment(input, b, &limits).is_err(), "{input:?}");
        assert_eq!(doc.nodes().len(), before, "unchanged on an error");
    }
    // depth counts from the context (b is at depth 2)
    let tight = Limits {
        max_depth: 4,
        ..Limits::default()
    };
    assert!(doc.parse_fragment(b"<c><d/></c>", b, &tight).is_ok());
    assert_eq!(
        doc.parse_fragment(b"<c><d><e/></d></c>", b, &tight)
            .unwrap_err(),
        XmlError::TooDeep
    );
    // namespaces in scope count the context's
    let few = Limits {
        max_namespaces_in_scope: 2,
        ..Limits::default()
    };
    assert!(doc.parse_fragment(b"<c xmlns:x='urn:x'/>", b, &few).is_ok());
    assert_eq!(
        doc.parse_fragment(b"<c xmlns:x='urn:x' xmlns:y='urn:y'/>", b, &few)
            .unwrap_err(),
        XmlError::TooManyNamespaces
    );
}

#[test]
fn replace_merges_text() {
    let mut doc = parse("<a>x<E/>y<b/></a>");
    let root = doc.root();
    let e = doc.child_elements(root).next().unwrap();
    let nodes = doc
        .parse_fragment(b"1<c/>2", root, &Limits::default())
        .unwrap();
    doc.replace(e, &nodes);
    assert_eq!(doc.parent(e), None);
    assert_eq!(doc.children(root).len(), 4, "x1, c, 2y, b");
    assert_eq!(doc.text(root), "x12y");
    assert_eq!(canonical(&doc, root), "<a>x1<c></c>2y<b></b></a>");
    // text only: one text node left
    let mut doc = parse("<a>x<E/>y</a>");
    let root = doc.root();
    let e = doc.child_elements(root).next().unwrap();
    let t = doc.new_text("m", root);
    doc.replace(e, &[t]);
    assert_eq!(doc.children(root).len(), 1);
    assert_eq!(doc.text(root), "xmy");
    // nothing: the texts around meet
    let mut doc = parse("<a>x<E/>y</a>");
    let root = doc.root();
    let e = doc.child_elements(root).next().unwrap();
    doc.replace(e, &[]);
    assert_eq!(doc.children(root).len(), 1);
    assert_eq!(doc.text(root), "xy");
}

#[test]
fn mutation() {
    let mut doc = parse(r#"<a xmlns:p="urn:p" p:x="1" y="2"><b/></a>"#);
    let root = doc.root();
    doc.set_attribute(
        root,
        Attribute {
            name: name("q", "x", "urn:p"),
            value: "3".into(),
        },
    );
    doc.set_attribute(
        root,
        Attribute {
            name: name("", "z", ""),
            value: "<&\"\t".into(),
        },
    );
    assert_eq!(doc.attribute(root, "urn:p", "x"), Some("3"));
    assert_eq!(doc.element(root).unwrap().attributes.len(), 3);
    doc.declare_namespace(root, "q", "urn:p");
    doc.declare_namespace(root, "p", "urn:p2");
    let c = doc.new_element(name("", "c", "urn:c"), root);
    doc.declare_namespace(c, "", "urn:c");
    assert_eq!(doc.lookup_namespace(c, "q"), Some("urn:p"));
    doc.insert_children(root, 0, &[c]);
    let t = doc.new_text("t", c);
    doc.insert_children(c, 99, &[t]);
    assert_eq!(
        written(&doc, root),
        r#"<a xmlns:p="urn:p2" xmlns:q="urn:p" q:x="3" y="2" z="&lt;&amp;&quot;&#x9;"><c xmlns="urn:c">t</c><b></b></a>"#
    );
    let b = doc.children(root)[1];
    doc.detach(b);
    assert_eq!(doc.parent(b), None);
    assert_eq!(doc.children(root), &[c]);
}

#[test]
fn writer_keeps_declarations_and_order() {
    let doc = parse(
        "<s:E xmlns:s=\"urn:s\" xmlns:u=\"urn:u\" xmlns=\"http://a/?x&amp;y\" z=\"1\" s:a=\"&#xA;\r\n\"><?p  d\r\n?>t&#xD;&gt;<x/></s:E>",
    );
    assert_eq!(
        written(&doc, doc.root()),
        "<s:E xmlns:s=\"urn:s\" xmlns:u=\"urn:u\" xmlns=\"http://a/?x&amp;y\" z=\"1\" s:a=\"&#xA; \"><?p d\n?>t&#xD;&gt;<x></x></s:E>"
    );
    // the output is what the parser reads back the same
    let again = Document::parse(written(&doc, doc.root()).as_bytes(), &Limits::default()).unwrap();
    assert_eq!(written(&again, again.root()), written(&doc, doc.root()));
}

#[test]
fn repeated_attributes_refused() {
    let limits = Limits::default();
    for input in [
        &b"<a x='1' x='2'/>"[..],
        b"<a xmlns:p='urn:p' p:x='1' p:x='2'/>",
        b"<a xmlns='urn:a' xmlns='urn:a'/>",
        b"<a xmlns:p='urn:p' xmlns:p='urn:p'/>",
        b"<a xmlns:xml='http://www.w3.org/XML/1998/namespace' xmlns:xml='http://www.w3.org/XML/1998/namespace'/>",
    ] {
        assert!(
            matches!(Document::parse(input, &limits), Err(XmlError::Malformed(_))),
            "{input:?}"
        );
    }
    // past eight attributes the check sorts: the same answers
    let many: String = (0..20).map(|i| format!(" a{i}='{i}'")).collect();
    for (extra, expected) in [
        (" a3='x'", "repeated"),
        (" p:a3='x' q:a3='y'", "expanded"),
        (" xmlns:r='urn:r' xmlns:r='urn:r'", "repeated"),
        (" p:a3='x' q:a4='y' xmlns:r='urn:r'", "ok"),
    ] {
        let doc = format!("<e xmlns:p='urn:p' xmlns:q='urn:p'{many}{extra}/>");
        match (Document::parse(doc.as_bytes(), &limits), expected) {
            (Ok(_), "ok")
            | (Err(XmlError::Malformed(_)), "repeated")
            | (Err(XmlError::Namespace(_)), "expanded") => {}
            (other, _) => panic!("{extra}: {other:?}"),
        }
    }
    // the same local name in two namespaces, or with and without a prefix, is no repetition
    assert!(Document::parse(
        b"<a xmlns:p='urn:p' xmlns:q='urn:q' x='1' p:x='2' q:x='3'/>",
        &limits
    )
    .is_ok());
}

#[test]
fn deep_trees_are_walked_without_recursion() {
    // the depth bound is the caller's: a tree as deep as the size bound allows is written without
    // exhausting the stack (a test thread has 2 MiB)
    let depth = 200_000;
    let doc = format!("{}{}", "<a>".repeat(depth), "</a>".repeat(depth));
    let limits = Limits {
        max_depth: depth,
        ..Limits::default()
    };
    let doc = Document::parse(doc.as_bytes(), &limits).unwrap();
    let mut out = Vec::new();
    exc_c14n_node(&doc, doc.root(), &[], &mut out);
    assert_eq!(out.len(), depth * 7);
    let mut out = Vec::new();
    write_node(&doc, doc.root(), &mut out);
    assert_eq!(out.len(), depth * 7);
}

/// Documents for the round trips below: namespaces from ancestors, default namespaces undeclared, PIs,
/// references to CR and tab, CDATA, comments.
const ROUND_TRIP: &[&str] = &[
    ENVELOPE,
    r#"<n2:pdu xmlns:n1="http://example.com" xmlns:n2="http://foo.example" xml:lang="fr" xml:space="retain">
  <n1:elem2 xmlns:n1="http://example.net" xml:lang="en">
    <n3:stuff xmlns:n3="ftp://example.org"/>
  </n1:elem2>
</n2:pdu>"#,
    "<a xmlns=\"urn:a\" xmlns:p=\"urn:p\"><b xmlns=\"\" p:x=\"&#9;&#xD;\r\n\">t&#xD;<![CDATA[<&>]]><!--c-->u<?p  q ?><c xmlns=\"urn:c\"><p:d/></c></b><e/></a>",
];

#[test]
fn written_documents_read_back_the_same() {
    for source in ROUND_TRIP {
        let doc = parse(source);
        let again = parse(&written(&doc, doc.root()));
        assert_eq!(canonical(&again, again.root()), canonical(&doc, doc.root()));
        assert_eq!(written(&again, again.root()), written(&doc, doc.root()));
    }
}

#[test]
fn content_reparsed_in_its_context_is_the_same() {
    // what decryption does (XML-Enc 4.5): an element's content written out, parsed back in its context and
    // put in place of the original content leaves every canonical form unchanged
    for source in ROUND_TRIP {
        let original = parse(source);
        let elements: Vec<usize> = (0..original.nodes().len())
            .filter(|n| original.element(*n).is_some() && original.parent(*n).is_some())
            .collect();
        for element in elements {
            let mut doc = original.clone();
            let children = doc.children(element).to_vec();
            let mut content = Vec::new();
            for child in &children {
                write_node(&doc, *child, &mut content);
            }
            let nodes = doc
                .parse_fragment(&content, element, &Limits::default())
                .unwrap();
            if let Some((first, rest)) = children.split_first() {
                for child in rest {
                    doc.detach(*child);
                }
                doc.replace(*first, &nodes);
            } else {
                doc.insert_children(element, 0, &nodes);
            }
            for id in [doc.root(), element] {
                assert_eq!(canonical(&doc, id), canonical(&original, id), "{source}");
            }
        }
    }
}

/// XML 1.0 [40]/[44] (white space before each attribute) and [14] (no `]]>` in character data), as the
/// memchr scans of the parser find them: quotes of either kind, values holding the other quote, `>` alone.
#[test]
fn attribute_separation_and_cdata_end_in_text() {
    let limits = Limits::default();
    for ok in [
        &b"<a x='1' y=\"2\"/>"[..],
        b"<a x='\"' y=\"'\"/>",
        b"<a x='1'\ty='2'\n/>",
        b"<a x=\"1\"/>",
        b"<a>]]&gt; ]> ]] > >]]</a>",
        b"<a>]</a>",
        b"<a>]]</a>",
        b"<a>&gt;</a>",
    ] {
        assert!(Document::parse(ok, &limits).is_ok(), "{ok:?}");
    }
    for bad in [
        &b"<a x='1'y='2'/>"[..],
        b"<a x=\"1\"y='2'/>",
        b"<a x='\"'y=\"'\"/>",
        b"<a>]]></a>",
        b"<a>x]]>y</a>",
        b"<a>>]]>]</a>",
        b"<a><b/>]]></a>",
    ] {
        assert!(Document::parse(bad, &limits).is_err(), "{bad:?}");
    }
}

/// Each declared URI is checked once per parse (remembered by its interned string): a relative URI spelled
/// like a name met before, or declared after absolute ones, is still refused; more distinct names than the
/// interner keeps still parse, each under its own name.
#[test]
fn namespace_uris_checked_once_and_names_past_the_interner() {
    let limits = Limits::default();
    for bad in [
        &b"<abc xmlns:p=\"abc\"/>"[..],
        b"<a xmlns:p=\"urn:x\"><b xmlns:q=\"urn:x\"/><c xmlns:r=\"rel\"/></a>",
        b"<a xmlns=\"urn:x\"><a xmlns=\"a\"/></a>",
    ] {
        assert!(Document::parse(bad, &limits).is_err(), "{bad:?}");
    }
    let mut many = String::from("<r xmlns:p=\"urn:p\">");
    for i in 0..150 {
        many.push_str(&format!(
            "<e{i} xmlns:q{i}=\"urn:q{i}\" q{i}:a{i}=\"v{i}\"><p:x/></e{i}>"
        ));
    }
    many.push_str("<bad xmlns:z=\"relative\"/></r>");
    assert!(Document::parse(many.as_bytes(), &limits).is_err());
    let good = many.replace("\"relative\"", "\"urn:z\"");
    let doc = parse(&good);
    let root = doc.root();
    let children: Vec<usize> = doc.child_elements(root).collect();
    assert_eq!(children.len(), 151);
    for (i, c) in children.iter().take(150).enumerate() {
        let e = doc.element(*c).unwrap();
        assert_eq!(e.name.local.as_str(), format!("e{i}"));
        let a = &e.attributes[0];
        assert_eq!(a.name.local.as_str(), format!("a{i}"));
        assert_eq!(a.name.ns.as_str(), format!("urn:q{i}"));
        assert_eq!(a.value, format!("v{i}"));
        let x = doc.element(doc.child_elements(*c).next().unwrap()).unwrap();
        assert_eq!((x.name.local.as_str(), x.name.ns.as_str()), ("x", "urn:p"));
    }
}

/// A fragment parse shares the document's names and its memory of the URIs checked: a URI checked in the
/// document is accepted again, a relative one spelled like one of its names is still refused, and the
/// fragment's names resolve in the context's scope.
#[test]
fn fragments_share_the_documents_names() {
    let limits = Limits::default();
    let mut doc = parse("<rel xmlns=\"urn:d\" xmlns:p=\"urn:p\"><b/></rel>");
    let b = doc.child_elements(doc.root()).next().unwrap();
    assert!(doc
        .parse_fragment(b"<a xmlns:q=\"rel\"/>", b, &limits)
        .is_err());
    let top = doc
        .parse_fragment(b"<rel xmlns:q=\"urn:p\" q:x=\"1\"><p:b/></rel>", b, &limits)
        .unwrap();
    let e = doc.element(top[0]).unwrap();
    assert_eq!(
        (e.name.local.as_str(), e.name.ns.as_str()),
        ("rel", "urn:d")
    );
    assert_eq!(e.attributes[0].name.ns.as_str(), "urn:p");
    let inner = doc
        .element(doc.child_elements(top[0]).next().unwrap())
        .unwrap();
    assert_eq!(
        (inner.name.prefix.as_str(), inner.name.ns.as_str()),
        ("p", "urn:p")
    );
}

/// The names of one thread's documents are kept from one parse to the next (dom::shared::Interner): many
/// documents with names never seen again (a peer's junk), then ordinary ones, all read exactly; the table is
/// emptied when it fills, never read wrongly.
#[test]
fn names_kept_between_documents_never_mix_them_up() {
    for n in 0..2000 {
        let doc = parse(&format!(
            r#"<p{n}:e{n} xmlns:p{n}="urn:x:{n}" a{n}="v{n}"><p{n}:c xmlns:q="http://q/{n}" q:at="{n}"/></p{n}:e{n}>"#
        ));
        let root = doc.element(doc.root()).unwrap();
        assert_eq!(
            root.name,
            name(&format!("p{n}"), &format!("e{n}"), &format!("urn:x:{n}"))
        );
        assert_eq!(
            doc.attribute(doc.root(), "", &format!("a{n}")),
            Some(format!("v{n}").as_str())
        );
        let child = doc.child_elements(doc.root()).next().unwrap();
        assert_eq!(
            doc.attribute(child, &format!("http://q/{n}"), "at"),
            Some(n.to_string().as_str())
        );
        assert_eq!(
            canonical(&doc, doc.root()),
            format!(
                r#"<p{n}:e{n} xmlns:p{n}="urn:x:{n}" a{n}="v{n}"><p{n}:c xmlns:q="http://q/{n}" q:at="{n}"></p{n}:c></p{n}:e{n}>"#
            )
        );
    }
    let doc = parse(
        r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body/></s:Envelope>"#,
    );
    assert_eq!(
        canonical(&doc, doc.root()),
        r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body></s:Body></s:Envelope>"#
    );
}

/// Attribute values are normalized (XML 1.0 section 3.3.3) whatever their length: a value of 32 bytes or
/// more is searched for references and white space otherwise than a short one.
#[test]
fn long_and_short_attribute_values_normalized_alike() {
    for pad in ["", &"p".repeat(40)] {
        for (raw, normalized) in [
            ("a\tb", "a b"),
            ("a\nb", "a b"),
            ("a\r\nb", "a b"),
            ("a\rb", "a b"),
            ("a&amp;b", "a&b"),
            ("a&#9;b", "a\tb"),
            ("plain", "plain"),
        ] {
            let doc = parse(&format!(r#"<e a="{pad}{raw}{pad}"/>"#));
            let expected = format!("{pad}{normalized}{pad}");
            assert_eq!(doc.attribute(doc.root(), "", "a"), Some(expected.as_str()));
        }
        assert!(Document::parse(
            format!(r#"<e a="{pad}<{pad}"/>"#).as_bytes(),
            &Limits::default()
        )
        .is_err());
    }
    let uri = format!("urn:x:{}", "u".repeat(40));
    let doc = parse(&format!(r#"<p:e xmlns:p="{uri}&amp;q"/>"#));
    assert_eq!(
        doc.element(doc.root()).unwrap().name.ns.as_str(),
        format!("{uri}&q")
    );
}

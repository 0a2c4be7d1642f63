//! Unit tests of exclusive c14n; the expected bytes are lxml's (checked by rust/tests_py too).

use wssc_core::{exc_c14n, exc_c14n_with_limits, C14nError, Limits, Selector, MAX_DEPTH};

fn root(doc: &str) -> String {
    String::from_utf8(exc_c14n(doc.as_bytes(), Selector::DocumentElement, &[]).unwrap()).unwrap()
}

fn at(doc: &str, path: &[usize], prefixes: &[&str]) -> String {
    String::from_utf8(exc_c14n(doc.as_bytes(), Selector::Path(path), prefixes).unwrap()).unwrap()
}

fn by_id(doc: &str, id: &str) -> Result<String, C14nError> {
    exc_c14n(doc.as_bytes(), Selector::Id(id), &[]).map(|b| String::from_utf8(b).unwrap())
}

fn refused(doc: &[u8]) -> C14nError {
    exc_c14n(doc, Selector::DocumentElement, &[]).unwrap_err()
}

const EXC_1: &str = r#"<n0:local xmlns:n0="foo:bar" xmlns:n3="ftp://example.org">
  <n1:elem2 xmlns:n1="http://example.net" xml:lang="en">
    <n3:stuff xmlns:n3="ftp://example.org"/>
  </n1:elem2>
</n0:local>"#;
const EXC_2: &str = r#"<n2:pdu xmlns:n1="http://example.com" xmlns:n2="http://foo.example" xml:lang="fr" xml:space="retain">
  <n1:elem2 xmlns:n1="http://example.net" xml:lang="en">
    <n3:stuff xmlns:n3="ftp://example.org"/>
  </n1:elem2>
</n2:pdu>"#;
const EXC_EXPECTED: &str = r#"<n1:elem2 xmlns:n1="http://example.net" xml:lang="en">
    <n3:stuff xmlns:n3="ftp://example.org"></n3:stuff>
  </n1:elem2>"#;

#[test]
fn w3c_exclusive_example() {
    assert_eq!(at(EXC_1, &[0], &[]), EXC_EXPECTED);
    assert_eq!(at(EXC_2, &[0], &[]), EXC_EXPECTED);
}

#[test]
fn namespaces_from_ancestors_only_when_utilized() {
    let doc = r#"<s:E xmlns:s="urn:s" xmlns:u="urn:u" xmlns:x="urn:x"><s:B u:Id="b"><p>t</p></s:B></s:E>"#;
    assert_eq!(
        at(doc, &[0], &[]),
        r#"<s:B xmlns:s="urn:s" xmlns:u="urn:u" u:Id="b"><p>t</p></s:B>"#
    );
    // u:Id is not wsu:Id: no reference can name it
    assert_eq!(by_id(doc, "b"), Err(C14nError::NotFound));
    // the inclusive list brings x (in scope, not utilized) and the default namespace (not in scope: nothing)
    assert_eq!(
        at(doc, &[0], &["x", "#default"]),
        r#"<s:B xmlns:s="urn:s" xmlns:u="urn:u" xmlns:x="urn:x" u:Id="b"><p>t</p></s:B>"#
    );
}

#[test]
fn default_namespace_rules() {
    let doc = r#"<a xmlns="urn:a"><b xmlns=""><c xmlns="urn:a"/><d/></b><e/></a>"#;
    assert_eq!(
        root(doc),
        r#"<a xmlns="urn:a"><b xmlns=""><c xmlns="urn:a"></c><d></d></b><e></e></a>"#
    );
    // apex in no namespace: nothing to undeclare
    assert_eq!(at(doc, &[0], &[]), r#"<b><c xmlns="urn:a"></c><d></d></b>"#);
    // inherited default namespace written on the apex
    assert_eq!(at(doc, &[1], &[]), r#"<e xmlns="urn:a"></e>"#);
}

#[test]
fn attribute_order_and_escaping() {
    let doc = "<e xmlns:b=\"http://b\" xmlns:a=\"http://a\" z=\"1\" b:y=\"&lt;&amp;&quot;&gt;\" a:y=\"\t\r\n&#9;&#xA;&#xD;\" xml:lang=\"en\"/>";
    assert_eq!(
        root(doc),
        "<e xmlns:a=\"http://a\" xmlns:b=\"http://b\" z=\"1\" a:y=\"  &#x9;&#xA;&#xD;\" b:y=\"&lt;&amp;&quot;>\" xml:lang=\"en\"></e>"
    );
}

#[test]
fn text_escaping_and_line_ends() {
    assert_eq!(
        root("<a>x\r\ny\rz &amp;&lt;&gt;&quot;&apos;&#xD;&#13;>\"'<![CDATA[<&>\r\n]]></a>"),
        "<a>x\ny\nz &amp;&lt;&gt;\"'&#xD;&#xD;&gt;\"'&lt;&amp;&gt;\n</a>"
    );
}

#[test]
fn comments_go_processing_instructions_stay() {
    assert_eq!(
        root("<?xml version=\"1.0\"?>\n<!--x--><?p d?>\n<a><!-- c --><?pi  data ?><?q?></a>\n<!--y-->"),
        "<a><?pi data ?><?q?></a>"
    );
}

#[test]
fn utf8_bom_allowed() {
    assert_eq!(
        String::from_utf8(
            exc_c14n(
                b"\xEF\xBB\xBF<a>\xC3\xA9</a>",
                Selector::DocumentElement,
                &[]
            )
            .unwrap()
        )
        .unwrap(),
        "<a>\u{e9}</a>"
    );
}

#[test]
fn selectors() {
    let wsu = wssc_core::WSU_NS;
    let doc = format!(
        r#"<E xmlns:wsu="{wsu}"><H><T wsu:Id="ts"/></H><B Id="body"><x xml:id="x1"/></B></E>"#
    );
    assert_eq!(
        by_id(&doc, "ts").unwrap(),
        format!(r#"<T xmlns:wsu="{wsu}" wsu:Id="ts"></T>"#)
    );
    assert_eq!(
        by_id(&doc, "body").unwrap(),
        r#"<B Id="body"><x xml:id="x1"></x></B>"#
    );
    assert_eq!(by_id(&doc, "x1").unwrap(), r#"<x xml:id="x1"></x>"#);
    assert_eq!(by_id(&doc, "nope"), Err(C14nError::NotFound));
    assert_eq!(at(&doc, &[1, 0], &[]), r#"<x xml:id="x1"></x>"#);
    assert_eq!(
        exc_c14n(doc.as_bytes(), Selector::Path(&[2]), &[]),
        Err(C14nError::NotFound)
    );
    // an id carried twice, anywhere, is refused; one element carrying it twice is one element
    let twice = format!(r#"<E xmlns:wsu="{wsu}"><a Id="d"/><b wsu:Id="d"/></E>"#);
    assert_eq!(by_id(&twice, "d"), Err(C14nError::DuplicateId));
    let nested = r#"<E><a Id="d"><b Id="d"/></a></E>"#;
    assert_eq!(by_id(nested, "d"), Err(C14nError::DuplicateId));
    assert_eq!(
        by_id(r#"<E Id="d" xml:id="d"/>"#, "d").unwrap(),
        r#"<E Id="d" xml:id="d"></E>"#
    );
}

#[test]
fn refusals() {
    assert_eq!(
        refused(b"<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>"),
        C14nError::Dtd
    );
    assert_eq!(refused(b"<a>&e;</a>"), C14nError::Entity);
    assert_eq!(refused(b"<a b=\"&e;\"/>"), C14nError::Entity);
    assert!(matches!(
        refused(b"\xFF\xFE<\0a\0/\0>\0"),
        C14nError::Encoding(_)
    ));
    assert!(matches!(
        refused(b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a/>"),
        C14nError::Encoding(_)
    ));
    assert!(matches!(refused(b"<a>\xE9</a>"), C14nError::Encoding(_)));
    assert!(matches!(refused(b"<p:a/>"), C14nError::Namespace(_)));
    assert!(matches!(
        refused(b"<a xmlns:p=\"urn:p\"><b xmlns:p=\"\"/></a>"),
        C14nError::Namespace(_)
    ));
    assert!(matches!(
        refused(b"<a xmlns:p=\"urn:x\" xmlns:q=\"urn:x\" p:b=\"1\" q:b=\"2\"/>"),
        C14nError::Namespace(_)
    ));
    assert_eq!(
        refused(b"<a xmlns=\"relative\"/>"),
        C14nError::RelativeNamespace
    );
    assert_eq!(
        refused(b"<a xmlns:p=\"http://h:port/\"/>"),
        C14nError::RelativeNamespace
    );
    for bad in [
        &b"<a/><b/>"[..],
        b"<a/>x",
        b"<a></b>",
        b"<a>",
        b"<a>]]></a>",
        b"<a b=\"<\"/>",
        b"<a><!-- -- --></a>",
        b"<a b=\"1\"c=\"2\"/>",
        b"<a>&#0;</a>",
        b"<a>\x01</a>",
        b" <?xml version=\"1.0\"?><a/>",
        b"<?xml version=\"1.0\"encoding=\"UTF-8\"?><a/>",
        b"<a><?xml x?></a>",
        b"<a><?p:q x?></a>",
        b"\xEF\xBB\xBF\xEF\xBB\xBF<a/>",
        b"",
    ] {
        assert!(
            matches!(refused(bad), C14nError::Malformed(_)),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn limits() {
    let deep = |n: usize| "<a>".repeat(n) + &"</a>".repeat(n);
    assert!(exc_c14n(deep(MAX_DEPTH).as_bytes(), Selector::DocumentElement, &[]).is_ok());
    assert_eq!(refused(deep(MAX_DEPTH + 1).as_bytes()), C14nError::TooDeep);
    let small = Limits {
        max_document_bytes: 10,
        ..Limits::default()
    };
    assert_eq!(
        exc_c14n_with_limits(b"<a>0123456789</a>", Selector::DocumentElement, &[], &small),
        Err(C14nError::TooLarge)
    );
    let attrs: String = (0..300).map(|i| format!(" a{i}=\"\"")).collect();
    assert_eq!(
        refused(format!("<a{attrs}/>").as_bytes()),
        C14nError::TooManyAttributes
    );
}

#[test]
fn many_targets_in_one_pass() {
    use wssc_core::{exc_c14n_many, Target};
    let doc =
        r#"<E xmlns="urn:e" xmlns:p="urn:p"><A Id="a"><p:B Id="b">t</p:B></A><C Id="c"/></E>"#;
    let forms = exc_c14n_many(
        doc.as_bytes(),
        &[
            Target {
                selector: Selector::Id("b"),
                inclusive_prefixes: &[],
            },
            Target {
                selector: Selector::Id("a"),
                inclusive_prefixes: &["p"],
            },
            Target {
                selector: Selector::Id("c"),
                inclusive_prefixes: &[],
            },
            Target {
                selector: Selector::DocumentElement,
                inclusive_prefixes: &[],
            },
            Target {
                selector: Selector::Id("b"),
                inclusive_prefixes: &["#default"],
            },
        ],
        &Limits::default(),
    )
    .unwrap();
    let forms: Vec<String> = forms
        .into_iter()
        .map(|f| String::from_utf8(f).unwrap())
        .collect();
    assert_eq!(
        forms,
        [
            r#"<p:B xmlns:p="urn:p" Id="b">t</p:B>"#,
            r#"<A xmlns="urn:e" xmlns:p="urn:p" Id="a"><p:B Id="b">t</p:B></A>"#,
            r#"<C xmlns="urn:e" Id="c"></C>"#,
            r#"<E xmlns="urn:e"><A Id="a"><p:B xmlns:p="urn:p" Id="b">t</p:B></A><C Id="c"></C></E>"#,
            r#"<p:B xmlns="urn:e" xmlns:p="urn:p" Id="b">t</p:B>"#,
        ]
    );
    let missing = exc_c14n_many(
        doc.as_bytes(),
        &[Target {
            selector: Selector::Id("zz"),
            inclusive_prefixes: &[],
        }],
        &Limits::default(),
    );
    assert_eq!(missing, Err(C14nError::NotFound));
}

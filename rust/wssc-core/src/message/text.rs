//! The XML text the sender writes itself: the Security header's children, the ds:Signature with its
//! SignedInfo in canonical form, the xenc:EncryptedData, each exactly as `wssc.security.protect` and the
//! modules it calls write them (`dsig.sign`, `xmlenc.encrypted_data_xml`, `Timestamp.canonical_xml`,
//! `DerivedKeyToken.to_xml`, `SecurityTokenReference.to_xml`), so that WSS4J and WCF see the same layout.
//!
//! Every template is either already in exclusive-c14n form (Exc-C14N section 3; Canonical XML 1.0 section
//! 2.3: namespace declarations first, attributes sorted, empty elements as start and end tags), and then
//! digested as written, or comes with a canonical twin for when a signature covers it.

use crate::crypto::b64encode_into;

pub(crate) use super::{DS, EXC_C14N, WSSE, WSSE11, WSU, XENC, XENC_CONTENT, XENC_ELEMENT};

/// Append `value` escaped as Canonical XML 1.0 section 2.3 escapes an attribute value
/// (`wssc.primitives.xml.escape_attr`).
pub(crate) fn push_attr(out: &mut String, value: &str) {
    if !value
        .bytes()
        .any(|b| matches!(b, b'&' | b'<' | b'"' | b'\t' | b'\n' | b'\r'))
    {
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            _ => out.push(c),
        }
    }
}

/// Append `value` escaped as Canonical XML 1.0 section 2.3 escapes character data.
pub(crate) fn push_text(out: &mut String, value: &str) {
    if !value
        .bytes()
        .any(|b| matches!(b, b'&' | b'<' | b'>' | b'\r'))
    {
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            _ => out.push(c),
        }
    }
}

/// Append the decimal digits of `n`.
fn push_number(out: &mut String, n: usize) {
    use std::fmt::Write as _;
    // Writing to a String cannot fail.
    let _ = write!(out, "{n}");
}

/// Message-unique wsu:Id values `{kind}_{8 hex}-{n}` (`protect._Ids`): the random per-message part keeps
/// them apart from the application's ids and from another message's.
pub(crate) struct Ids {
    prefix: String,
    n: usize,
}

impl Ids {
    pub(crate) fn new(random: [u8; 4]) -> Ids {
        let mut prefix = String::with_capacity(10);
        prefix.push('_');
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for b in random {
            prefix.push(char::from(HEX[usize::from(b >> 4)]));
            prefix.push(char::from(HEX[usize::from(b & 15)]));
        }
        prefix.push('-');
        Ids { prefix, n: 0 }
    }

    pub(crate) fn next(&mut self, kind: &str) -> String {
        self.n += 1;
        let mut id = String::with_capacity(kind.len() + self.prefix.len() + 4);
        id.push_str(kind);
        id.push_str(&self.prefix);
        push_number(&mut id, self.n);
        id
    }
}

/// `wsu:Timestamp` in canonical form (WSS 1.1 section 10; `Timestamp.canonical_xml`).
pub(crate) fn timestamp(id: &str, created: &str, expires: Option<&str>) -> String {
    let mut s = String::with_capacity(256);
    s.push_str("<wsu:Timestamp xmlns:wsu=\"");
    s.push_str(WSU);
    s.push_str("\" wsu:Id=\"");
    push_attr(&mut s, id);
    s.push_str("\"><wsu:Created>");
    push_text(&mut s, created);
    s.push_str("</wsu:Created>");
    if let Some(expires) = expires {
        s.push_str("<wsu:Expires>");
        push_text(&mut s, expires);
        s.push_str("</wsu:Expires>");
    }
    s.push_str("</wsu:Timestamp>");
    s
}

/// `wsse11:SignatureConfirmation` in canonical form (WSS 1.1 section 8.5); no `Value` confirms an unsigned
/// request.
pub(crate) fn signature_confirmation(id: &str, value: Option<&[u8]>) -> String {
    let mut s =
        format!("<wsse11:SignatureConfirmation xmlns:wsse11=\"{WSSE11}\" xmlns:wsu=\"{WSU}\"");
    if let Some(value) = value {
        s.push_str(" Value=\"");
        b64encode_into(value, &mut s);
        s.push('"');
    }
    s.push_str(" wsu:Id=\"");
    push_attr(&mut s, id);
    s.push_str("\"></wsse11:SignatureConfirmation>");
    s
}

/// `wsc:DerivedKeyToken` with Offset 0, Length and a Nonce, no Label (the default label), as
/// `DerivedKeyToken.to_xml` writes it (WS-SC 1.3 section 7; writers emit Offset, never Generation).
pub(crate) fn derived_key_token(
    sc: &str,
    id: &str,
    reference_xml: &str,
    length: usize,
    nonce: &[u8],
) -> String {
    let mut s = String::with_capacity(256 + reference_xml.len());
    s.push_str("<wsc:DerivedKeyToken xmlns:wsc=\"");
    push_attr(&mut s, sc);
    s.push_str("\" xmlns:wsu=\"");
    s.push_str(WSU);
    s.push_str("\" wsu:Id=\"");
    push_attr(&mut s, id);
    s.push_str("\">");
    s.push_str(reference_xml);
    s.push_str("<wsc:Offset>0</wsc:Offset><wsc:Length>");
    push_number(&mut s, length);
    s.push_str("</wsc:Length><wsc:Nonce>");
    b64encode_into(nonce, &mut s);
    s.push_str("</wsc:Nonce></wsc:DerivedKeyToken>");
    s
}

/// A `wsse:SecurityTokenReference` to `#id` without ValueType (`reference.local(id).to_xml()`, WSS 1.1
/// section 7.2), as written and in canonical form.
pub(crate) fn local_reference(id: &str, canonical: bool) -> String {
    let mut s = String::with_capacity(160);
    s.push_str("<wsse:SecurityTokenReference xmlns:wsse=\"");
    s.push_str(WSSE);
    s.push_str("\"><wsse:Reference URI=\"#");
    push_attr(&mut s, id);
    s.push_str(if canonical {
        "\"></wsse:Reference></wsse:SecurityTokenReference>"
    } else {
        "\"/></wsse:SecurityTokenReference>"
    });
    s
}

/// The `ds:SignedInfo` content after its start tag (`dsig.sign`): exclusive c14n, the method, one Reference
/// per `(id, digest value)` with the exclusive c14n transform (WSS 1.1 section 8; BSP R5404).
pub(crate) fn signed_info_inner(method: &str, digest: &str, refs: &[(String, Vec<u8>)]) -> String {
    let mut s = String::with_capacity(256 + 400 * refs.len());
    s.push_str("<ds:CanonicalizationMethod Algorithm=\"");
    s.push_str(EXC_C14N);
    s.push_str("\"></ds:CanonicalizationMethod><ds:SignatureMethod Algorithm=\"");
    push_attr(&mut s, method);
    s.push_str("\"></ds:SignatureMethod>");
    for (id, value) in refs {
        s.push_str("<ds:Reference URI=\"#");
        push_attr(&mut s, id);
        s.push_str("\"><ds:Transforms><ds:Transform Algorithm=\"");
        s.push_str(EXC_C14N);
        s.push_str("\"></ds:Transform></ds:Transforms><ds:DigestMethod Algorithm=\"");
        push_attr(&mut s, digest);
        s.push_str("\"></ds:DigestMethod><ds:DigestValue>");
        b64encode_into(value, &mut s);
        s.push_str("</ds:DigestValue></ds:Reference>");
    }
    s.push_str("</ds:SignedInfo>");
    s
}

/// The canonical SignedInfo, the bytes the signature value is computed over (XML-DSig section 3.1.2).
pub(crate) fn signed_info_canonical(inner: &str) -> String {
    let mut s = String::with_capacity(64 + inner.len());
    s.push_str("<ds:SignedInfo xmlns:ds=\"");
    s.push_str(DS);
    s.push_str("\">");
    s.push_str(inner);
    s
}

/// The `ds:Signature` element (XML-DSig section 4.1) with its KeyInfo.
pub(crate) fn signature(id: &str, inner: &str, value: &[u8], key_info_xml: &str) -> String {
    let mut s = String::with_capacity(200 + inner.len() + key_info_xml.len());
    s.push_str("<ds:Signature xmlns:ds=\"");
    s.push_str(DS);
    s.push_str("\" Id=\"");
    push_attr(&mut s, id);
    s.push_str("\"><ds:SignedInfo>");
    s.push_str(inner);
    s.push_str("<ds:SignatureValue>");
    b64encode_into(value, &mut s);
    s.push_str("</ds:SignatureValue><ds:KeyInfo>");
    s.push_str(key_info_xml);
    s.push_str("</ds:KeyInfo></ds:Signature>");
    s
}

/// An `xenc:EncryptedData` (XML-Enc 1.0 section 3.4; `xmlenc.encrypted_data_xml`), as written
/// (`canonical` false: the EncryptionMethod self-closed) or in canonical form (then `key_info_xml` must be
/// canonical too); the cipher value is base64-encoded straight into the text.
pub(crate) fn encrypted_data(
    id: &str,
    data_type: &str,
    algorithm: &str,
    key_info_xml: &str,
    cipher_value: &[u8],
    canonical: bool,
) -> String {
    let mut s = encrypted_data_head(
        id,
        data_type,
        algorithm,
        key_info_xml,
        canonical,
        cipher_value.len().div_ceil(3) * 4 + ENCRYPTED_DATA_TAIL.len(),
    );
    b64encode_into(cipher_value, &mut s);
    s.push_str(ENCRYPTED_DATA_TAIL);
    s
}

/// What follows the base64 cipher value in an [`encrypted_data`].
pub(crate) const ENCRYPTED_DATA_TAIL: &str =
    "</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>";

/// [`encrypted_data`] up to its cipher value, with room for `more` bytes (the writer puts a Body-sized
/// value and the tail straight into the output).
pub(crate) fn encrypted_data_head(
    id: &str,
    data_type: &str,
    algorithm: &str,
    key_info_xml: &str,
    canonical: bool,
    more: usize,
) -> String {
    let mut s = String::with_capacity(400 + key_info_xml.len() + more);
    s.push_str("<xenc:EncryptedData xmlns:xenc=\"");
    s.push_str(XENC);
    s.push_str("\" Id=\"");
    push_attr(&mut s, id);
    s.push_str("\" Type=\"");
    push_attr(&mut s, data_type);
    s.push_str("\"><xenc:EncryptionMethod Algorithm=\"");
    push_attr(&mut s, algorithm);
    s.push_str(if canonical {
        "\"></xenc:EncryptionMethod>"
    } else {
        "\"/>"
    });
    s.push_str("<ds:KeyInfo xmlns:ds=\"");
    s.push_str(DS);
    s.push_str("\">");
    s.push_str(key_info_xml);
    s.push_str("</ds:KeyInfo><xenc:CipherData><xenc:CipherValue>");
    s
}

/// The `xenc:ReferenceList` of the encrypted parts (XML-Enc 1.0 section 3.6; WSS 1.1 section 9.3).
pub(crate) fn reference_list(ids: &[String]) -> String {
    let mut s = String::with_capacity(80 + 60 * ids.len());
    s.push_str("<xenc:ReferenceList xmlns:xenc=\"");
    s.push_str(XENC);
    s.push_str("\">");
    for id in ids {
        s.push_str("<xenc:DataReference URI=\"#");
        push_attr(&mut s, id);
        s.push_str("\"/>");
    }
    s.push_str("</xenc:ReferenceList>");
    s
}

/// The `wsse:Security` start tag (WSS 1.1 section 5), mustUnderstand in the envelope's SOAP version.
/// `capacity`: the length of the whole header, to write it without growing.
pub(crate) fn security_start(
    sc: &str,
    soap: &str,
    must_understand: &str,
    capacity: usize,
) -> String {
    let mut s = String::with_capacity(capacity.max(400));
    s.push_str("<wsse:Security xmlns:wsse=\"");
    s.push_str(WSSE);
    s.push_str("\" xmlns:wsu=\"");
    s.push_str(WSU);
    s.push_str("\" xmlns:wsc=\"");
    push_attr(&mut s, sc);
    s.push_str("\" xmlns:soapenv=\"");
    s.push_str(soap);
    s.push_str("\" soapenv:mustUnderstand=\"");
    s.push_str(must_understand);
    s.push_str("\">");
    s
}

pub(crate) const SECURITY_END: &str = "</wsse:Security>";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_count_across_kinds() {
        let mut ids = Ids::new([0xde, 0xad, 0x00, 0x0f]);
        assert_eq!(ids.next("TS"), "TS_dead000f-1");
        assert_eq!(ids.next("DK"), "DK_dead000f-2");
    }

    #[test]
    fn escaping_is_canonical() {
        let mut s = String::new();
        push_attr(&mut s, "a&<>\"\t\n\r");
        assert_eq!(s, "a&amp;&lt;>&quot;&#x9;&#xA;&#xD;");
        let mut t = String::new();
        push_text(&mut t, "a&<>\"\r");
        assert_eq!(t, "a&amp;&lt;&gt;\"&#xD;");
    }

    #[test]
    fn timestamp_is_written_as_python_does() {
        assert_eq!(
            timestamp("TS_1", "2026-01-01T00:00:00.000Z", Some("2026-01-01T00:05:00.000Z")),
            format!(
                "<wsu:Timestamp xmlns:wsu=\"{WSU}\" wsu:Id=\"TS_1\"><wsu:Created>2026-01-01T00:00:00.000Z\
                 </wsu:Created><wsu:Expires>2026-01-01T00:05:00.000Z</wsu:Expires></wsu:Timestamp>"
            )
        );
    }

    #[test]
    fn encrypted_data_canonical_twin_differs_only_in_empty_elements() {
        let wire = encrypted_data(
            "ED",
            XENC_CONTENT,
            "urn:alg",
            &local_reference("DK", false),
            b"A",
            false,
        );
        let canonical = encrypted_data(
            "ED",
            XENC_CONTENT,
            "urn:alg",
            &local_reference("DK", true),
            b"A",
            true,
        );
        let c = crate::exc_c14n(wire.as_bytes(), crate::Selector::DocumentElement, &[]).ok();
        assert_eq!(c.as_deref(), Some(canonical.as_bytes()));
    }
}

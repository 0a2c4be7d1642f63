//! The record of an accepted message (`wssc._core.Record`, docs/core.md): read by the glue as a mapping,
//! and the core's check of its own output (`output_matches`).

use pyo3::exceptions::{PyKeyError, PyLookupError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};
use wssc_core::message::{Part, Record};
use wssc_core::Selector;

use crate::{c14n_failure, prefix_list};

fn bytes<'py>(py: Python<'py>, b: &[u8]) -> Bound<'py, PyBytes> {
    PyBytes::new(py, b)
}

/// A part of the output as the glue names it: ("body",), ("header", i), ("security", i), ("signature",).
fn part_tuple<'py>(py: Python<'py>, part: &Part) -> PyResult<Bound<'py, PyAny>> {
    Ok(match part {
        Part::Body => ("body",).into_pyobject(py)?.into_any(),
        Part::Header(i) => ("header", *i).into_pyobject(py)?.into_any(),
        Part::Security(i) => ("security", *i).into_pyobject(py)?.into_any(),
        Part::Signature => ("signature",).into_pyobject(py)?.into_any(),
    })
}

/// The `signature` item: `None` or `(method, digest_uri, value)`.
fn signature<'py>(py: Python<'py>, r: &Record) -> PyResult<Bound<'py, PyAny>> {
    let signature = r
        .signature
        .as_ref()
        .map(|(method, digest, value, _)| (*method, *digest, bytes(py, value)));
    Ok(signature.into_pyobject(py)?.into_any())
}

/// The `first_cipher_value` item.
fn first_cipher_value<'py>(py: Python<'py>, r: &Record) -> PyResult<Bound<'py, PyAny>> {
    let value = r.first_cipher_value.as_deref().map(|v| bytes(py, v));
    Ok(value.into_pyobject(py)?.into_any())
}

/// The `sct_ids` item: `{wsu:Id: Identifier}`.
fn sct_ids<'py>(py: Python<'py>, r: &Record) -> PyResult<Bound<'py, PyAny>> {
    let sct_ids = PyDict::new(py);
    for (id, identifier) in &r.sct_ids {
        sct_ids.set_item(id, identifier)?;
    }
    Ok(sct_ids.into_any())
}

/// The record's `accepted` item: what the glue reads of every accepted message, in one tuple (one call
/// into the core rather than one per item; docs/core.md lists its fields).
fn accepted<'py>(py: Python<'py>, r: &Record) -> PyResult<Bound<'py, PyAny>> {
    let keys: Vec<(usize, bool)> = r.decryption.iter().map(|(_, i, d, _)| (*i, *d)).collect();
    let encryption = r.decryption.first().map(|(_, _, _, algorithm)| *algorithm);
    let confirmations: Vec<Option<Bound<'py, PyBytes>>> = r
        .confirmations
        .iter()
        .filter(|(_, signed)| *signed)
        .map(|(v, _)| v.as_deref().map(|v| bytes(py, v)))
        .collect();
    let items: [Bound<'py, PyAny>; 13] = [
        r.soap.into_pyobject(py)?.into_any(),
        PyTuple::new(py, &r.headers)?.into_any(),
        r.body.into_pyobject(py)?.into_any(),
        r.timestamp_signed.into_pyobject(py)?.to_owned().into_any(),
        signature(py, r)?,
        r.signature_key.into_pyobject(py)?.into_any(),
        PyTuple::new(py, keys)?.into_any(),
        encryption.into_pyobject(py)?.into_any(),
        first_cipher_value(py, r)?,
        r.derivation.into_pyobject(py)?.into_any(),
        PyTuple::new(py, confirmations)?.into_any(),
        sct_ids(py, r)?,
        bytes(py, &r.output).into_any(),
    ];
    Ok(PyTuple::new(py, items)?.into_any())
}

/// The record of an accepted message (docs/core.md), read by the glue as a mapping: each item is converted to
/// Python objects when it is read, so that what the hot path does not read (the view's digests and canonical
/// parts) costs nothing until an application asks for the view.
#[pyclass(module = "wssc._core", name = "Record", frozen)]
pub(crate) struct PyRecord {
    pub(crate) inner: Record,
}

#[pymethods]
impl PyRecord {
    fn __getitem__<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyAny>> {
        let r = &self.inner;
        Ok(match key {
            "output" => bytes(py, &r.output).into_any(),
            "soap" => r.soap.into_pyobject(py)?.into_any(),
            "headers" => PyTuple::new(py, &r.headers)?.into_any(),
            "body" => r.body.into_pyobject(py)?.into_any(),
            "timestamp_signed" => r.timestamp_signed.into_pyobject(py)?.to_owned().into_any(),
            "digests" => r
                .digests
                .iter()
                .map(|(part, id, uri, value, prefixes)| {
                    Ok((
                        part_tuple(py, part)?,
                        id.as_str(),
                        *uri,
                        bytes(py, value),
                        prefixes.clone(),
                    ))
                })
                .collect::<PyResult<Vec<_>>>()?
                .into_pyobject(py)?
                .into_any(),
            "security_parts" => r
                .security_parts
                .iter()
                .map(|(n, b)| (n.as_str(), bytes(py, b)))
                .collect::<Vec<_>>()
                .into_pyobject(py)?
                .into_any(),
            "signature" => signature(py, r)?,
            "signature_xml" => r
                .signature
                .as_ref()
                .map(|(_, _, _, xml)| bytes(py, xml))
                .into_pyobject(py)?
                .into_any(),
            "signature_key" => r.signature_key.into_pyobject(py)?.into_any(),
            "decryption" => r
                .decryption
                .iter()
                .map(|(part, context, derived, algorithm)| {
                    Ok((part_tuple(py, part)?, *context, *derived, *algorithm))
                })
                .collect::<PyResult<Vec<_>>>()?
                .into_pyobject(py)?
                .into_any(),
            "confirmations" => r
                .confirmations
                .iter()
                .map(|(v, s)| (v.as_deref().map(|v| bytes(py, v)), *s))
                .collect::<Vec<_>>()
                .into_pyobject(py)?
                .into_any(),
            "sct_ids" => sct_ids(py, r)?,
            "first_cipher_value" => first_cipher_value(py, r)?,
            "derivation" => r.derivation.into_pyobject(py)?.into_any(),
            "accepted" => accepted(py, r)?,
            // (Clark name, mustUnderstand, role, text, signed): `wssc.security.soap.HeaderBlock`'s fields
            "header_blocks" => PyTuple::new(
                py,
                r.headers
                    .iter()
                    .zip(&r.header_facts)
                    .map(|((tag, signed, _), (mu, role, text))| (tag, mu, role, text, *signed)),
            )?
            .into_any(),
            "payload_tags" => PyTuple::new(py, &r.payload_tags)?.into_any(),
            "envelope_parts" => {
                let parts = r
                    .digests
                    .iter()
                    .filter(|(part, ..)| !matches!(part, Part::Security(_)))
                    .map(|(part, ..)| part_tuple(py, part))
                    .collect::<PyResult<Vec<_>>>()?;
                PyTuple::new(py, parts)?.into_any()
            }
            _ => return Err(PyKeyError::new_err(key.to_owned())),
        })
    }

    /// Each child element of the verified Body on its own, in Canonical XML with every namespace in scope
    /// declared (`wssc_core::message::Record::payload_xml`): bytes of the core's own tree, no second parser.
    fn payload_xml<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let forms = py.detach(|| self.inner.payload_xml());
        PyTuple::new(py, forms.iter().map(|form| bytes(py, form)))
    }

    /// Whether the core, parsing `output` (its own output, as the glue read it) again, finds every signed part
    /// of the envelope (the Body, a header block) with the digest it verified, compared in constant time
    /// (docs/core.md, point 4: the core vouches for its writer).  `has_header`: the Envelope has a Header (the
    /// Body is its second element then).  Raises `LookupError` when a part is not where the record puts it,
    /// `C14nRefused` when the output cannot be canonicalised: the glue then checks each part on lxml's tree.
    fn output_matches(&self, py: Python<'_>, output: &[u8], has_header: bool) -> PyResult<bool> {
        let r = &self.inner;
        // (element path from the Envelope, digest method, DigestValue, PrefixList) of each envelope part
        let mut checks = Vec::new();
        for (part, _, uri, value, prefixes) in &r.digests {
            let path = match part {
                Part::Security(_) => continue,
                Part::Body => vec![usize::from(has_header)],
                Part::Header(i) => vec![0, *i],
                Part::Signature => {
                    return Err(PyLookupError::new_err("a signed part outside the envelope"));
                }
            };
            let method = wssc_core::crypto::Digest::from_uri(uri)
                .ok_or_else(|| PyValueError::new_err("unknown digest method"))?;
            checks.push((path, method, value, prefix_list(prefixes)));
        }
        let requests: Vec<wssc_core::Target<'_>> = checks
            .iter()
            .map(|(path, _, _, prefixes)| wssc_core::Target {
                selector: Selector::Path(path),
                inclusive_prefixes: prefixes,
            })
            .collect();
        let limits = wssc_core::Limits::default();
        let result = py.detach(|| {
            wssc_core::exc_c14n_many(output, &requests, &limits).map(|forms| {
                forms
                    .iter()
                    .zip(&checks)
                    .fold(true, |all, (form, (_, method, value, _))| {
                        all & method.verify(form, value)
                    })
            })
        });
        result.map_err(|err| c14n_failure(err, "a signed part is not where the record puts it"))
    }
}

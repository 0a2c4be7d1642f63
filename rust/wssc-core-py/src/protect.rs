//! `wssc._core.protect`: the compiled symmetric binding's sender (docs/core.md, the API contract).

use pyo3::exceptions::{PyKeyError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};
use wssc_core::message::protect::{self as core, ProtectInput, ProtectOptions};

use crate::Declined;

/// The keys of the `options` dict (`ProtectionPolicy` with the suite's algorithms resolved); `use_gcm` is
/// accepted and ignored, the caller having put the GCM algorithm into `encryption` already.
const OPTION_KEYS: [&str; 17] = [
    "signature",
    "digest",
    "encryption",
    "signature_key_length",
    "encryption_key_length",
    "sign",
    "encrypt",
    "derived_keys",
    "encrypt_signature",
    "encrypt_before_sign",
    "include_timestamp",
    "sign_body",
    "sign_addressing_headers",
    "signed_headers",
    "encrypted_headers",
    "protect_tokens",
    "use_gcm",
];

fn get<'py, T: pyo3::conversion::FromPyObjectOwned<'py>>(
    options: &Bound<'py, PyDict>,
    key: &Bound<'py, PyString>,
) -> PyResult<T> {
    match options.get_item(key)? {
        Some(value) => value.extract::<T>().map_err(|e| {
            PyValueError::new_err(format!("options[{key}]: {}", Into::<PyErr>::into(e)))
        }),
        None => Err(PyKeyError::new_err(key.clone().unbind())),
    }
}

fn options_from(py: Python<'_>, options: &Bound<'_, PyDict>) -> PyResult<ProtectOptions> {
    let parsed = ProtectOptions {
        signature: get(options, intern!(py, "signature"))?,
        digest: get(options, intern!(py, "digest"))?,
        encryption: get(options, intern!(py, "encryption"))?,
        signature_key_length: get(options, intern!(py, "signature_key_length"))?,
        encryption_key_length: get(options, intern!(py, "encryption_key_length"))?,
        sign: get(options, intern!(py, "sign"))?,
        encrypt: get(options, intern!(py, "encrypt"))?,
        derived_keys: get(options, intern!(py, "derived_keys"))?,
        encrypt_signature: get(options, intern!(py, "encrypt_signature"))?,
        encrypt_before_sign: get(options, intern!(py, "encrypt_before_sign"))?,
        include_timestamp: get(options, intern!(py, "include_timestamp"))?,
        sign_body: get(options, intern!(py, "sign_body"))?,
        sign_addressing_headers: get(options, intern!(py, "sign_addressing_headers"))?,
        signed_headers: get(options, intern!(py, "signed_headers"))?,
        encrypted_headers: get(options, intern!(py, "encrypted_headers"))?,
        protect_tokens: get(options, intern!(py, "protect_tokens"))?,
    };
    // Every key but use_gcm is required and read above: a longer dict holds a key that is not an option.
    let expected = OPTION_KEYS.len() - 1 + usize::from(options.contains(intern!(py, "use_gcm"))?);
    if options.len() != expected {
        for key in options.keys() {
            let key: String = key.extract()?;
            if !OPTION_KEYS.contains(&key.as_str()) {
                return Err(PyValueError::new_err(format!(
                    "unknown protect option {key:?}"
                )));
            }
        }
    }
    Ok(parsed)
}

/// A `ProtectionPolicy` as the core reads it (the `options` dict), converted once rather than at every
/// message: `protect` takes it in place of the dict.
#[pyclass(module = "wssc._core", name = "ProtectOptions", frozen)]
pub(crate) struct PyProtectOptions {
    inner: ProtectOptions,
}

#[pymethods]
impl PyProtectOptions {
    #[new]
    fn new(py: Python<'_>, options: &Bound<'_, PyDict>) -> PyResult<PyProtectOptions> {
        Ok(PyProtectOptions {
            inner: options_from(py, options)?,
        })
    }
}

/// Protect `envelope` under the symmetric binding with keys from `secret` (WS-SP 1.2 section 7.4): the
/// protected envelope and its signature value (None when not signed).  Raises `Declined(reason)` for an
/// envelope or option the core does not reproduce exactly (the Python path protects it then).
///
/// `token_xml`: the protection token's XML when it travels in the Security header (written as given);
/// `reference_xml`: the STR naming it (`ProtectionToken.reference(version).to_xml()`, written as given);
/// `sc_namespace`: the WS-SC namespace of the DerivedKeyTokens (1.3 or Feb 2005); `label`: None or the
/// default label "WS-SecureConversationWS-SecureConversation" (WS-SC 1.3 section 7), which the Python path
/// always derives with and never writes, another is declined; `created`/`expires`: the Timestamp's texts;
/// `confirmations`: request signature values to confirm, None for an unsigned request (WSS 1.1 section 8.5).
/// `options`: the dict, or a `ProtectOptions` made from it.
#[pyfunction]
#[pyo3(signature = (envelope, secret, *, token_xml, reference_xml, sc_namespace, label, options, created, expires, confirmations))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn protect<'py>(
    py: Python<'py>,
    envelope: &[u8],
    secret: &[u8],
    token_xml: Option<&str>,
    reference_xml: &str,
    sc_namespace: &str,
    label: Option<&str>,
    options: &Bound<'py, PyAny>,
    created: &str,
    expires: Option<&str>,
    confirmations: Vec<Option<Vec<u8>>>,
) -> PyResult<(Bound<'py, PyBytes>, Option<Bound<'py, PyBytes>>)> {
    let converted;
    let options = match options.cast::<PyProtectOptions>() {
        Ok(prepared) => &prepared.get().inner,
        Err(_) => {
            converted = options_from(py, options.cast::<PyDict>()?)?;
            &converted
        }
    };
    let input = ProtectInput {
        envelope,
        secret,
        token_xml,
        reference_xml,
        sc_namespace,
        label,
        options,
        created,
        expires,
        confirmations: &confirmations,
    };
    match py.detach(|| crate::guarded(|| core::protect(&input))) {
        Ok(out) => Ok((
            PyBytes::new(py, &out.data),
            out.signature_value.map(|v| PyBytes::new(py, &v)),
        )),
        Err(declined) => Err(Declined::new_err(declined.0)),
    }
}

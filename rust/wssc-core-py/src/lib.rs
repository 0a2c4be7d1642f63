//! Python binding of wssc-core, imported as `wssc._core` (built by setuptools-rust from the project's
//! `pip install .`, or by `maturin develop` in this directory).
//!
//! No `unsafe` here: PyO3's macros hold what the binding needs.  A panic in the core becomes a Python
//! exception (PyO3 raises `PanicException`), never an abort of the process.

use pyo3::exceptions::{PyException, PyLookupError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use wssc_core::message::{self, MessageLimits, Policy};
use wssc_core::{C14nError, Selector};

mod protect;
mod record;
mod replay;

use record::PyRecord;
use replay::{ReplayCache, ReplayCheck};

/// mimalloc for the core's many small, short-lived allocations (the tree of each message): glibc's malloc
/// took about a third of a message's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pyo3::create_exception!(
    _core,
    Declined,
    PyException,
    "the core declines the message: the Python path decides it (args[0]: a short reason)"
);

pyo3::create_exception!(
    _core,
    C14nRefused,
    PyValueError,
    "the document cannot be canonicalized"
);

/// A canonicalisation's failure as Python sees it: `LookupError` (`not_found`) when nothing is selected,
/// `C14nRefused` when the document cannot be canonicalised.
fn c14n_failure(err: C14nError, not_found: &'static str) -> PyErr {
    match err {
        C14nError::NotFound => PyLookupError::new_err(not_found),
        err => C14nRefused::new_err(err.to_string()),
    }
}

/// Exclusive XML canonicalization 1.0 without comments of the element of `document` whose wsu:Id, Id or
/// xml:id is `element_id` (the document element when None), with the InclusiveNamespaces PrefixList
/// `inclusive_prefixes` ("#default" or "" for the default namespace).
#[pyfunction]
#[pyo3(signature = (document, element_id=None, inclusive_prefixes=None))]
fn exc_c14n<'py>(
    py: Python<'py>,
    document: &[u8],
    element_id: Option<&str>,
    inclusive_prefixes: Option<Vec<String>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let prefixes: Vec<String> = inclusive_prefixes.unwrap_or_default();
    let refs: Vec<&str> = prefixes.iter().map(String::as_str).collect();
    let selector = match element_id {
        Some(id) => Selector::Id(id),
        None => Selector::DocumentElement,
    };
    let result = py.detach(|| wssc_core::exc_c14n(document, selector, &refs));
    result
        .map(|bytes| PyBytes::new(py, &bytes))
        .map_err(|err| c14n_failure(err, "no element carries this id"))
}

/// Same as `exc_c14n`, the element chosen by child-element indices from the document element.
#[pyfunction]
#[pyo3(signature = (document, path, inclusive_prefixes=None))]
fn exc_c14n_path<'py>(
    py: Python<'py>,
    document: &[u8],
    path: Vec<usize>,
    inclusive_prefixes: Option<Vec<String>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let prefixes: Vec<String> = inclusive_prefixes.unwrap_or_default();
    let refs: Vec<&str> = prefixes.iter().map(String::as_str).collect();
    let result = py.detach(|| wssc_core::exc_c14n(document, Selector::Path(&path), &refs));
    result
        .map(|bytes| PyBytes::new(py, &bytes))
        .map_err(|err| c14n_failure(err, "no element at this path"))
}

/// Which element of a document [`exc_c14n_many`] canonicalises: an element carrying this identifier, or the
/// element at this path of element-child indexes from the document element.
#[derive(FromPyObject)]
enum Select {
    Id(String),
    Path(Vec<usize>),
}

fn prefix_list(prefixes: &Option<Vec<String>>) -> Vec<&str> {
    prefixes.iter().flatten().map(String::as_str).collect()
}

fn target<'a>(selector: &'a Option<Select>, prefixes: &'a [&'a str]) -> wssc_core::Target<'a> {
    wssc_core::Target {
        selector: match selector {
            Some(Select::Id(id)) => Selector::Id(id),
            Some(Select::Path(path)) => Selector::Path(path),
            None => Selector::DocumentElement,
        },
        inclusive_prefixes: prefixes,
    }
}

/// Several elements of one document in one pass: `targets` is a list of `(selector, inclusive_prefixes)`,
/// `selector` an identifier, a path of element-child indexes, or None for the document element; the
/// canonical forms in the same order.
#[pyfunction]
fn exc_c14n_many<'py>(
    py: Python<'py>,
    document: &[u8],
    targets: Vec<(Option<Select>, Option<Vec<String>>)>,
) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    let prefixes: Vec<Vec<&str>> = targets.iter().map(|(_, p)| prefix_list(p)).collect();
    let requests: Vec<wssc_core::Target<'_>> = targets
        .iter()
        .zip(&prefixes)
        .map(|((selector, _), p)| target(selector, p))
        .collect();
    let limits = wssc_core::Limits::default();
    let result = py.detach(|| wssc_core::exc_c14n_many(document, &requests, &limits));
    result
        .map(|forms| forms.iter().map(|b| PyBytes::new(py, b)).collect())
        .map_err(|err| c14n_failure(err, "no element is selected by one of the targets"))
}

/// Whether `data` holds one of `needles` as a byte substring (SIMD substring search, where Python's
/// `needle in data` steps through a 9 KB request in microseconds).
#[pyfunction]
fn contains_any(data: &[u8], needles: Vec<Vec<u8>>) -> bool {
    needles
        .iter()
        .any(|needle| memchr::memmem::find(data, needle).is_some())
}

/// An integer field of the `limits` dict (`wssc.limits.Limits` field names), its default when absent.
fn limit<T: for<'a> FromPyObject<'a, 'a>>(
    d: &Bound<'_, PyDict>,
    key: &str,
    default: T,
) -> PyResult<T>
where
    for<'a> <T as FromPyObject<'a, 'a>>::Error: Into<PyErr>,
{
    match d.get_item(key)? {
        Some(v) => v.extract::<T>().map_err(Into::into),
        None => Ok(default),
    }
}

fn message_limits(d: &Bound<'_, PyDict>) -> PyResult<MessageLimits> {
    let x = MessageLimits::default();
    Ok(MessageLimits {
        max_derivation_offset: limit(d, "max_derivation_offset", x.max_derivation_offset)?,
        max_derivation_label: limit(d, "max_derivation_label", x.max_derivation_label)?,
        max_derivation_nonce: limit(d, "max_derivation_nonce", x.max_derivation_nonce)?,
        max_derived_key_length: limit(d, "max_derived_key_length", x.max_derived_key_length)?,
        max_message_bytes: limit(d, "max_message_bytes", x.max_message_bytes)?,
        max_xml_depth: limit(d, "max_xml_depth", x.max_xml_depth)?,
        max_security_header_elements: limit(
            d,
            "max_security_header_elements",
            x.max_security_header_elements,
        )?,
        max_signature_references: limit(d, "max_signature_references", x.max_signature_references)?,
        max_signatures: limit(d, "max_signatures", x.max_signatures)?,
        digested_bytes_per_message_byte: limit(
            d,
            "digested_bytes_per_message_byte",
            x.digested_bytes_per_message_byte,
        )?,
    })
}

fn policy(d: &Bound<'_, PyDict>) -> PyResult<Policy> {
    let list = |key: &str| -> PyResult<Option<Vec<String>>> {
        match d.get_item(key)? {
            Some(v) if !v.is_none() => Ok(Some(v.extract()?)),
            _ => Ok(None),
        }
    };
    Ok(Policy {
        signature_methods: list("signature_methods")?,
        digests: list("digests")?,
        ciphers: list("ciphers")?,
        encrypted_signature: match d.get_item("encrypted_signature")? {
            Some(v) => v.extract()?,
            None => false,
        },
    })
}

/// The limits and the suite's policy a receiver verifies under, converted once (`wssc.limits.Limits` field
/// names and `compiled_unprotect.core_policy`'s keys), not at every message.
#[pyclass(module = "wssc._core", frozen)]
struct Settings {
    limits: MessageLimits,
    policy: Policy,
}

#[pymethods]
impl Settings {
    #[new]
    fn new(limits: &Bound<'_, PyDict>, policy: &Bound<'_, PyDict>) -> PyResult<Settings> {
        Ok(Settings {
            limits: message_limits(limits)?,
            policy: self::policy(policy)?,
        })
    }
}

/// An incoming message: phase 1 (`parse`) done, phase 2 (`verify`) to come (docs/core.md).
#[pyclass(module = "wssc._core")]
struct Incoming {
    inner: Option<message::Incoming>,
    /// (Created, Expires) text of the Timestamp, for the glue's check
    #[pyo3(get)]
    timestamp: Option<(String, Option<String>, Option<String>)>,
    /// (Identifier, Instance, WS-SC namespace) of the contexts to resolve
    #[pyo3(get)]
    contexts: Vec<(String, Option<String>, Option<String>)>,
}

#[pymethods]
impl Incoming {
    /// Phase 1: parse, locate, index; raises `Declined`.
    #[staticmethod]
    fn parse(py: Python<'_>, data: &[u8], settings: &Settings) -> PyResult<Incoming> {
        let limits = settings.limits;
        let inner = py
            .detach(|| guarded(|| message::Incoming::parse(data, limits)))
            .map_err(|d| Declined::new_err(d.0))?;
        let contexts = inner
            .contexts
            .iter()
            .map(|c| {
                (
                    c.identifier.clone(),
                    c.instance.clone(),
                    c.namespace.map(str::to_owned),
                )
            })
            .collect();
        Ok(Incoming {
            timestamp: inner.timestamp.clone(),
            contexts,
            inner: Some(inner),
        })
    }

    /// Phase 2 with the context keys (aligned with `contexts`) and the settings' policy: the record, or
    /// `Declined`.  `on_authenticated(value)` is called with the message signature's value as soon as it
    /// verified, before anything else is decrypted or digested (the receiver's replay check); an exception it
    /// raises stops the walk and is raised here.  Once only: verification changes the message.
    fn verify(
        &mut self,
        py: Python<'_>,
        keys: Vec<Vec<u8>>,
        settings: &Settings,
        on_authenticated: Py<PyAny>,
    ) -> PyResult<PyRecord> {
        let policy = &settings.policy;
        let inner = self
            .inner
            .take()
            .ok_or_else(|| Declined::new_err("already verified"))?;
        let mut raised: Option<PyErr> = None;
        // the receiver's own replay check runs here, without the GIL; any other callable is called with it
        let native = on_authenticated
            .cast_bound::<ReplayCheck>(py)
            .ok()
            .map(Bound::get);
        let result = py.detach(|| {
            let mut told = |value: &[u8]| match native.map(|check| (check, check.check(value))) {
                Some((_, replay::ADMITTED)) => true,
                Some((check, found)) => {
                    raised = Some(Python::attach(|py| check.refusal(py, found)));
                    false
                }
                None => Python::attach(|py| {
                    match on_authenticated.call1(py, (PyBytes::new(py, value),)) {
                        Ok(_) => true,
                        Err(err) => {
                            raised = Some(err);
                            false
                        }
                    }
                }),
            };
            guarded(|| inner.verify(&keys, policy, &mut told))
        });
        if let Some(err) = raised {
            return Err(err);
        }
        Ok(PyRecord {
            inner: result.map_err(|d| Declined::new_err(d.0))?,
        })
    }
}

/// Runs a core entry point so that a panic (a bug, never expected) becomes a `Declined` with a reason that
/// names no input: the Python path then decides the message, and the process goes on.
pub(crate) fn guarded<T>(
    f: impl FnOnce() -> Result<T, message::Declined>,
) -> Result<T, message::Declined> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or(Err(message::Declined(PANICKED)))
}

/// The reason a panic in the core is reported with (the glue logs it as an error).
pub(crate) const PANICKED: &str = "internal error: the compiled core panicked";

#[pymodule]
#[pyo3(name = "_core")]
fn wssc_core_py(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(exc_c14n, m)?)?;
    m.add_function(wrap_pyfunction!(exc_c14n_path, m)?)?;
    m.add_function(wrap_pyfunction!(exc_c14n_many, m)?)?;
    m.add_function(wrap_pyfunction!(contains_any, m)?)?;
    m.add("C14nRefused", m.py().get_type::<C14nRefused>())?;
    m.add("Declined", m.py().get_type::<Declined>())?;
    m.add_class::<Incoming>()?;
    m.add_class::<PyRecord>()?;
    m.add_class::<Settings>()?;
    m.add_class::<ReplayCache>()?;
    m.add_class::<ReplayCheck>()?;
    m.add_function(wrap_pyfunction!(protect::protect, m)?)?;
    m.add_class::<protect::PyProtectOptions>()?;
    Ok(())
}

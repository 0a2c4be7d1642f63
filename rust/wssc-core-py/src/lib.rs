//! Python binding of wssc-core, imported as `wssc._core` (built by setuptools-rust from the project's
//! `pip install .`, or by `maturin develop` in this directory).
//!
//! No `unsafe` here: PyO3's macros hold what the binding needs.  A panic in the core becomes a Python
//! exception (PyO3 raises `PanicException`), never an abort of the process.

use pyo3::exceptions::{PyLookupError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use wssc_core::{C14nError, Selector};

mod protect;

pyo3::create_exception!(
    _core,
    C14nRefused,
    PyValueError,
    "the document cannot be canonicalized"
);

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
    match result {
        Ok(bytes) => Ok(PyBytes::new(py, &bytes)),
        Err(C14nError::NotFound) => Err(PyLookupError::new_err("no element carries this id")),
        Err(err) => Err(C14nRefused::new_err(err.to_string())),
    }
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
    match result {
        Ok(bytes) => Ok(PyBytes::new(py, &bytes)),
        Err(C14nError::NotFound) => Err(PyLookupError::new_err("no element at this path")),
        Err(err) => Err(C14nRefused::new_err(err.to_string())),
    }
}

/// Several elements of one document in one pass: `targets` is a list of `(element_id, inclusive_prefixes)`
/// (`element_id` None: the document element); the canonical forms in the same order.
#[pyfunction]
fn exc_c14n_many<'py>(
    py: Python<'py>,
    document: &[u8],
    targets: Vec<(Option<String>, Option<Vec<String>>)>,
) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    let prefixes: Vec<Vec<&str>> = targets
        .iter()
        .map(|(_, p)| p.iter().flatten().map(String::as_str).collect())
        .collect();
    let requests: Vec<wssc_core::Target<'_>> = targets
        .iter()
        .zip(&prefixes)
        .map(|((id, _), p)| wssc_core::Target {
            selector: match id {
                Some(id) => Selector::Id(id),
                None => Selector::DocumentElement,
            },
            inclusive_prefixes: p,
        })
        .collect();
    let limits = wssc_core::Limits::default();
    let result = py.detach(|| wssc_core::exc_c14n_many(document, &requests, &limits));
    match result {
        Ok(forms) => Ok(forms.iter().map(|b| PyBytes::new(py, b)).collect()),
        Err(C14nError::NotFound) => {
            Err(PyLookupError::new_err("no element carries one of the ids"))
        }
        Err(err) => Err(C14nRefused::new_err(err.to_string())),
    }
}

pyo3::create_exception!(
    _core,
    Declined,
    pyo3::exceptions::PyException,
    "the core does not handle this input; args[0] is a short reason (never content or key material)"
);

#[pymodule]
#[pyo3(name = "_core")]
fn wssc_core_py(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(exc_c14n, m)?)?;
    m.add_function(wrap_pyfunction!(exc_c14n_path, m)?)?;
    m.add_function(wrap_pyfunction!(exc_c14n_many, m)?)?;
    m.add("C14nRefused", m.py().get_type::<C14nRefused>())?;
    m.add_function(wrap_pyfunction!(protect::protect, m)?)?;
    m.add("Declined", m.py().get_type::<Declined>())?;
    Ok(())
}

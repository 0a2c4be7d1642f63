//! The in-memory replay cache (`wssc.security.replay.InMemoryReplayCache`'s store when the core is present)
//! and the replay check of one verification, run by the core without calling back into Python: a message's
//! value is looked up and remembered while the core holds no GIL, and Python is entered only to refuse it.
//!
//! Times are whole microseconds since the Unix epoch (UTC), as the Python side converts its datetimes.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use wssc_core::crypto::Digest;

/// What [`ReplayCache::add`] found: the value is new (and now remembered), seen before, or refused because
/// the cache is full of live entries (`FULL_FIRST` for the first refusal since the last admission, which
/// the Python side logs).
pub(crate) const ADMITTED: u8 = 0;
pub(crate) const REPLAYED: u8 = 1;
pub(crate) const FULL: u8 = 2;
pub(crate) const FULL_FIRST: u8 = 3;

struct Entries {
    /// (expiry, key), oldest first; expiries never decrease from head to tail
    queue: VecDeque<(i64, Box<[u8]>)>,
    keys: HashSet<Box<[u8]>>,
    /// the last add was refused for want of room
    full: bool,
}

/// A process's replay cache: at most `capacity` live keys, each forgotten once its expiry has passed.
#[pyclass(module = "wssc._core", frozen)]
pub(crate) struct ReplayCache {
    capacity: usize,
    entries: Mutex<Entries>,
}

impl ReplayCache {
    /// Remember `key` until `expires`; what was found ([`ADMITTED`], [`REPLAYED`], [`FULL`], [`FULL_FIRST`]).
    fn remember(&self, key: &[u8], expires: i64, now: i64) -> u8 {
        // a panic while the lock was held leaves consistent entries (each step below keeps queue and keys in
        // step), so a poisoned lock is taken over rather than failing every later message
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Entries { queue, keys, full } = &mut *entries;
        while queue.front().is_some_and(|(expiry, _)| *expiry < now) {
            if let Some((_, old)) = queue.pop_front() {
                keys.remove(&old);
            }
        }
        // Every entry left is live: the queue is sorted (below), so no expired entry hides behind the head.
        if keys.contains(key) {
            return REPLAYED;
        }
        if queue.len() >= self.capacity {
            return if std::mem::replace(full, true) {
                FULL
            } else {
                FULL_FIRST
            };
        }
        *full = false;
        // A shorter lifetime than the tail's (a smaller skew sharing the cache, a clock stepped back) is
        // raised to the tail's: kept a little longer, never forgotten early, and the queue stays sorted.
        let expires = queue.back().map_or(expires, |(tail, _)| expires.max(*tail));
        queue.push_back((expires, key.into()));
        keys.insert(key.into());
        ADMITTED
    }
}

#[pymethods]
impl ReplayCache {
    #[new]
    fn new(capacity: usize) -> PyResult<ReplayCache> {
        if capacity < 1 {
            return Err(PyValueError::new_err(
                "a replay cache holds at least one entry",
            ));
        }
        Ok(ReplayCache {
            capacity,
            entries: Mutex::new(Entries {
                queue: VecDeque::new(),
                keys: HashSet::new(),
                full: false,
            }),
        })
    }

    /// Remember `key` until `expires` (microseconds since the epoch), at `now`: 0 admitted, 1 seen before,
    /// 2 refused for want of room (3 the first such refusal since the last admission).
    fn add(&self, py: Python<'_>, key: &[u8], expires: i64, now: i64) -> u8 {
        py.detach(|| self.remember(key, expires, now))
    }

    fn __len__(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .queue
            .len()
    }
}

/// The replay check of one verification: a value (a signature value, or an unsigned message's first cipher
/// value) is remembered by its SHA-256 until `expires`; a value this check admitted already passes again (the
/// Python path deciding a message the core declined checks the same value).  `refused(code)` is called, with
/// the GIL, when the cache refuses a value, and raises the receiver's exception.
#[pyclass(module = "wssc._core", frozen)]
pub(crate) struct ReplayCheck {
    cache: Py<ReplayCache>,
    expires: i64,
    now: i64,
    refused: Py<PyAny>,
    admitted: Mutex<Vec<Vec<u8>>>,
}

impl ReplayCheck {
    /// [`ReplayCache::remember`] for the SHA-256 of `value`, unless this check admitted it already.
    pub(crate) fn check(&self, value: &[u8]) -> u8 {
        let key = Digest::Sha256.digest(value);
        let mut admitted = self
            .admitted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if admitted.contains(&key) {
            return ADMITTED;
        }
        let found = self.cache.get().remember(&key, self.expires, self.now);
        if found == ADMITTED {
            admitted.push(key);
        }
        found
    }

    /// The exception `refused` raises for what the cache found (a replay, or no room).
    pub(crate) fn refusal(&self, py: Python<'_>, found: u8) -> PyErr {
        match self.refused.call1(py, (found,)) {
            Err(err) => err,
            Ok(_) => PyValueError::new_err("the replay check's refusal raised nothing"),
        }
    }
}

#[pymethods]
impl ReplayCheck {
    #[new]
    fn new(cache: Py<ReplayCache>, expires: i64, now: i64, refused: Py<PyAny>) -> ReplayCheck {
        ReplayCheck {
            cache,
            expires,
            now,
            refused,
            admitted: Mutex::new(Vec::new()),
        }
    }

    /// Check `value` (the Python path's call): returns None, or raises what `refused` raises.
    fn __call__(&self, py: Python<'_>, value: &[u8]) -> PyResult<()> {
        match py.detach(|| self.check(value)) {
            ADMITTED => Ok(()),
            found => Err(self.refusal(py, found)),
        }
    }
}

//! Locks that a panic does not poison.
//!
//! Every piece of shared state (the store, the faults, the connection
//! registry) is kept consistent by its own code before any call that could
//! panic, so after a panic in one request the data behind a lock is still
//! valid: later requests take the lock as if nothing happened instead of
//! failing on `PoisonError` until a restart.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `m`, also after another thread panicked while holding it.
pub fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_lock_is_still_usable() {
        let m = std::sync::Arc::new(Mutex::new(1));
        let m2 = std::sync::Arc::clone(&m);
        let _ = std::thread::spawn(move || {
            let _guard = m2.lock().unwrap();
            panic!("while holding the lock");
        })
        .join();
        assert!(m.is_poisoned());
        *lock(&m) += 1;
        assert_eq!(*lock(&m), 2);
    }
}

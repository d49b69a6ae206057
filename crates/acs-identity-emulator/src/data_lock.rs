//! One emulator per data file: an OS advisory lock on `<data file>.lock`.
//!
//! The lock belongs to the open file description, so the OS releases it
//! when the process ends however it ends (`kill -9` included); the lock
//! file itself stays behind and means nothing on its own. A separate file
//! is locked, not the database: closing any other descriptor of the
//! database would drop SQLite's own POSIX locks on it.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// A held lock; released on drop.
#[derive(Debug)]
pub struct DataLock {
    _file: File,
}

/// The lock file of a data file: the same path with `.lock` appended.
pub fn lock_path(data: &Path) -> PathBuf {
    let mut name = data.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

impl DataLock {
    /// Takes the lock of `data` without waiting; `Ok(None)` when another
    /// process (or another emulator in this one) holds it.
    pub fn acquire(data: &Path) -> std::io::Result<Option<Self>> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(lock_path(data))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Self { _file: file })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = std::env::temp_dir().join(format!(
            "emu-lock-{}-{}",
            std::process::id(),
            fastrand::u32(..)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let data = dir.join("state.db");
        assert_eq!(lock_path(&data), dir.join("state.db.lock"));
        let first = DataLock::acquire(&data).unwrap().expect("free");
        assert!(DataLock::acquire(&data).unwrap().is_none(), "held");
        drop(first);
        assert!(DataLock::acquire(&data).unwrap().is_some(), "released");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

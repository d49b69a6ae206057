//! One emulator per data file: an OS advisory lock on `<data file>.lock`,
//! taken under the file's one true name.
//!
//! [`resolve`] turns the path given into that name first: the file is
//! created when missing (its owner's only: it holds the access key and the
//! signing secret), symlinks and `..` are resolved, and a file with more
//! than one name (a hard link) is refused, since SQLite keeps its
//! write-ahead log beside the name it is opened by. So every spelling of
//! one file (a symlink, `dir/../file`, `./file`) meets the same lock and the
//! same log.
//!
//! The lock belongs to the open file description, so the OS releases it
//! when the process ends however it ends (`kill -9` included); the lock
//! file itself stays behind and means nothing on its own. A separate file
//! is locked, not the database: closing any other descriptor of the
//! database would drop SQLite's own POSIX locks on it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

/// Why a data file's name could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The file has other names (hard links).
    #[error(
        "it has {0} names (hard links); SQLite keeps its write-ahead log beside the name it is opened by, so two names could see two states of one file: keep one name and remove the other links"
    )]
    Linked(u64),
    /// It could not be created, inspected or tightened.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// The one name of the data file at `data`: created (mode 0600) when
/// missing, its permissions tightened to 0600 with a warning when others
/// could read it (and those of its `-wal` and `-shm` files), symlinks and
/// `..` resolved; refused when it has more than one name.
pub fn resolve(data: &Path) -> Result<PathBuf, ResolveError> {
    let mut options = OpenOptions::new();
    // Exclusive: an existing name (a symlink included) is left as it is.
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    match options.open(data) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e.into()),
    }
    let path = std::fs::canonicalize(data)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        let links = std::fs::metadata(&path)?.nlink();
        if links > 1 {
            return Err(ResolveError::Linked(links));
        }
        tighten(&path)?;
        for suffix in ["-wal", "-shm"] {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            match tighten(Path::new(&side)) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                other => other?,
            }
        }
    }
    Ok(path)
}

/// Makes `path` its owner's only (0600) when its group or others have any
/// access, with a warning naming the old mode.
#[cfg(unix)]
fn tighten(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path)?.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        tracing::warn!(
            file = %path.display(),
            "the data file was mode {mode:04o}, readable by others, and it holds the access key and the signing secret: made it 0600"
        );
    }
    Ok(())
}

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
    /// Takes the lock of `data` (a name from [`resolve`]) without waiting;
    /// `Ok(None)` when another process (or another emulator in this one)
    /// holds it.
    pub fn acquire(data: &Path) -> io::Result<Option<Self>> {
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

//! Writing result files (checkpoints, plots) so that an interrupted write
//! never leaves half a file, and checking before a long run that they can
//! be written at all.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The name a file is written under before it is renamed into place. It
/// adds to the whole name (never replaces an extension) and carries the
/// process id, so it cannot be the target itself.
fn temporary(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{}.tmp", std::process::id()));
    PathBuf::from(name)
}

/// Writes aside, syncs and renames.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = temporary(path);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Fails now if [`write_atomically`] could not write `path` later: creates
/// and removes the same temporary file, and refuses a directory (which the
/// rename would fail on). An existing file at `path` is left as it is,
/// since a run may resume from the checkpoint it will overwrite.
pub fn check_writable(path: &Path) -> std::io::Result<()> {
    if path.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "it is a directory",
        ));
    }
    let tmp = temporary(path);
    std::fs::File::create(&tmp)?;
    std::fs::remove_file(&tmp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwritable_places_are_refused_and_nothing_is_left() {
        let dir = std::env::temp_dir().join(format!("srsa-output-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(check_writable(&dir.join("missing").join("f")).is_err());
        assert!(check_writable(&dir).is_err());
        let f = dir.join("f.bin");
        std::fs::write(&f, b"old").unwrap();
        check_writable(&f).unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"old");
        write_atomically(&f, b"new").unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).ok();
    }
}

//! Secrets kept in files of the data directory: made once, readable by their owner only.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

/// Reads the secret at `path`, or stores `fresh()` there (mode 0600) if there is none. Two processes
/// starting at once agree: the file appears whole or not at all (link into place, no clobber),
/// and the loser reads the winner's.
pub fn load_or_create(
    path: &Path,
    fresh: impl FnOnce() -> io::Result<Vec<u8>>,
) -> io::Result<Vec<u8>> {
    match read_secret(path) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        other => return other,
    }
    let secret = fresh()?;
    let dir = path.parent().unwrap_or(Path::new("."));
    // Made with mode 0600 on Unix.
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(&secret)?;
    file.as_file().sync_all()?;
    match file.persist_noclobber(path) {
        Ok(_) => Ok(secret),
        Err(error) if error.error.kind() == io::ErrorKind::AlreadyExists => read_secret(path),
        Err(error) => Err(error.error),
    }
}

fn read_secret(path: &Path) -> io::Result<Vec<u8>> {
    let secret = fs::read(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "{} is accessible to other users (mode {:o}); chmod 600 it",
                    path.display(),
                    mode & 0o777
                ),
            ));
        }
    }
    if secret.len() < 16 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} holds fewer than 16 bytes", path.display()),
        ));
    }
    Ok(secret)
}

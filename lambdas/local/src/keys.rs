//! ticketd's ticket-signing key: generated on first start into `<data-dir>/ticket-signing.key`
//! (mode 0600, the secret key text `KEYID:secret:<base64url seed>`, see
//! [`ticket_core::ticket_code`]) and read on later starts. The key id is derived from the public
//! key, so a data directory started afresh signs under a new key id and old codes are reported as
//! signed by an unknown key rather than as forged.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use ticket_core::TicketSigner;
use ticket_core::ticket_code::KeyError;

/// The key file's name in the data directory.
pub const KEY_FILE: &str = "ticket-signing.key";

/// A key file longer than this is not one of ours.
const MAX_KEY_FILE_LEN: u64 = 1024;

/// Why the signing key could not be loaded or created.
#[derive(Debug)]
pub enum KeyFileError {
    Io {
        path: PathBuf,
        action: &'static str,
        source: io::Error,
    },
    /// The key file can be read or written by group or others.
    Permissions { path: PathBuf, mode: u32 },
    /// The key file does not hold a signing key.
    Invalid { path: PathBuf, reason: String },
}

impl fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io {
                path,
                action,
                source,
            } => write!(f, "cannot {action} {}: {source}", path.display()),
            Self::Permissions { path, mode } => write!(
                f,
                "refusing the ticket-signing key {}: its mode is {mode:04o}, so group or others \
                 can reach it; it must be readable by its owner only (chmod 600 {})",
                path.display(),
                path.display()
            ),
            Self::Invalid { path, reason } => write!(
                f,
                "{} is not a ticket-signing key ({reason}); restore it from a backup, or delete \
                 it to generate a new key (codes already issued will then be rejected)",
                path.display()
            ),
        }
    }
}

impl std::error::Error for KeyFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::Permissions { .. } | Self::Invalid { .. } => None,
        }
    }
}

/// The signing key in `data_dir`, generated there on the first call. Concurrent first calls agree
/// on one key: each writes its candidate to a private temporary file and links it into place,
/// which fails rather than replaces if another got there first, so the file never appears
/// partly written and is never clobbered.
pub fn load_or_create(data_dir: &Path) -> Result<TicketSigner, KeyFileError> {
    let path = data_dir.join(KEY_FILE);
    match load(&path) {
        Err(KeyFileError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
        loaded => return loaded,
    }
    fs::create_dir_all(data_dir).map_err(io_error(data_dir, "create the data directory"))?;
    let signer = TicketSigner::generate_with_derived_id();
    let temporary = data_dir.join(format!(
        ".{KEY_FILE}.{}.{}.tmp",
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or_default()
    ));
    let written = write_new(&temporary, &signer);
    let linked = written.and_then(|()| {
        fs::hard_link(&temporary, &path).map_err(|source| KeyFileError::Io {
            path: path.clone(),
            action: "create",
            source,
        })
    });
    // The temporary name goes whatever happened; the key lives on under `path` if linked.
    let _ = fs::remove_file(&temporary);
    match linked {
        Ok(()) => {
            // Make the new directory entry durable; the key file itself was synced.
            if let Ok(dir) = File::open(data_dir) {
                let _ = dir.sync_all();
            }
            Ok(signer)
        }
        // Another starter created it first: use theirs.
        Err(KeyFileError::Io { source, .. }) if source.kind() == io::ErrorKind::AlreadyExists => {
            load(&path)
        }
        Err(error) => Err(error),
    }
}

fn write_new(path: &Path, signer: &TicketSigner) -> Result<(), KeyFileError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io_error(path, "create"))?;
    file.write_all(format!("{}\n", signer.to_secret_text()).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_error(path, "write"))
}

fn load(path: &Path) -> Result<TicketSigner, KeyFileError> {
    let file = File::open(path).map_err(io_error(path, "open"))?;
    // The opened file's own metadata: what was checked is what is read.
    let metadata = file.metadata().map_err(io_error(path, "inspect"))?;
    if !metadata.is_file() {
        return Err(KeyFileError::Invalid {
            path: path.to_owned(),
            reason: "not a regular file".into(),
        });
    }
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::Permissions {
            path: path.to_owned(),
            mode,
        });
    }
    let mut text = String::new();
    file.take(MAX_KEY_FILE_LEN + 1)
        .read_to_string(&mut text)
        .map_err(io_error(path, "read"))?;
    if text.len() as u64 > MAX_KEY_FILE_LEN {
        return Err(KeyFileError::Invalid {
            path: path.to_owned(),
            reason: "too long".into(),
        });
    }
    TicketSigner::from_secret_text(&text).map_err(|error: KeyError| KeyFileError::Invalid {
        path: path.to_owned(),
        reason: error.to_string(),
    })
}

fn io_error<'a>(
    path: &'a Path,
    action: &'static str,
) -> impl FnOnce(io::Error) -> KeyFileError + 'a {
    move |source| KeyFileError::Io {
        path: path.to_owned(),
        action,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ticket_core::{EventId, TicketId};
    use uuid::Uuid;

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn creates_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        let signer = load_or_create(&data_dir).unwrap();
        let path = data_dir.join(KEY_FILE);
        assert_eq!(mode_of(&path), 0o600);
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.trim_end(), signer.to_secret_text());
        // Only the key file is left behind.
        let names: Vec<_> = fs::read_dir(&data_dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, [KEY_FILE]);
    }

    #[test]
    fn stable_across_loads() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        let second = load_or_create(dir.path()).unwrap();
        assert_eq!(first.key_id(), second.key_id());
        assert_eq!(first.verifying_key(), second.verifying_key());
        let ticket = TicketId::from(Uuid::now_v7());
        let event = EventId::from(Uuid::now_v7());
        let verified = second
            .verifier()
            .verify(&first.sign(ticket, event))
            .unwrap();
        assert_eq!(verified.ticket_id, ticket);
        assert_eq!(mode_of(&dir.path().join(KEY_FILE)), 0o600);
    }

    #[test]
    fn a_new_data_dir_gets_a_new_key_id() {
        let one = tempfile::tempdir().unwrap();
        let two = tempfile::tempdir().unwrap();
        let first = load_or_create(one.path()).unwrap();
        let second = load_or_create(two.path()).unwrap();
        assert_ne!(first.key_id(), second.key_id());
    }

    #[test]
    fn concurrent_first_starts_agree_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let signers: Vec<TicketSigner> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| load_or_create(dir.path()).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for signer in &signers {
            assert_eq!(signer.verifying_key(), signers[0].verifying_key());
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_key_file_open_to_group_or_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let signer = load_or_create(dir.path()).unwrap();
        let path = dir.path().join(KEY_FILE);
        for mode in [0o644, 0o640, 0o604, 0o620, 0o666] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            let error = load_or_create(dir.path()).unwrap_err();
            assert!(
                matches!(error, KeyFileError::Permissions { mode: m, .. } if m == mode),
                "{mode:o}: {error:?}"
            );
            let message = error.to_string();
            assert!(message.contains("chmod 600"), "{message}");
            assert!(message.contains(&format!("{mode:04o}")), "{message}");
            // Refused, not replaced.
            assert_eq!(
                fs::read_to_string(&path).unwrap().trim_end(),
                signer.to_secret_text()
            );
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
        assert_eq!(
            load_or_create(dir.path()).unwrap().verifying_key(),
            signer.verifying_key()
        );
    }

    #[test]
    fn a_damaged_key_file_is_refused_without_echoing_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        let signer = TicketSigner::generate_with_derived_id();
        let secret = signer.to_secret_text();
        let seed = secret.rsplit(':').next().unwrap();
        for content in [
            String::new(),
            format!("{}\n", signer.public_key()),
            format!("{}\n", &secret[..secret.len() - 2]),
            format!("x{secret}\n"),
            "A".repeat(5000),
        ] {
            fs::write(&path, &content).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
            let error = load_or_create(dir.path()).unwrap_err();
            assert!(matches!(error, KeyFileError::Invalid { .. }), "{error:?}");
            let message = error.to_string();
            assert!(!message.contains(&seed[..20]), "{message}");
            // Refused, not replaced.
            assert_eq!(fs::read_to_string(&path).unwrap(), content);
        }
    }

    #[test]
    fn a_directory_in_its_place_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join(KEY_FILE)).unwrap();
        fs::set_permissions(dir.path().join(KEY_FILE), fs::Permissions::from_mode(0o700)).unwrap();
        let error = load_or_create(dir.path()).unwrap_err();
        assert!(matches!(error, KeyFileError::Invalid { .. }), "{error:?}");
    }
}

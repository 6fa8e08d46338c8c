//! The directory adapter of the [`TicketFiles`] port: ticket PDFs under `<data-dir>/files/`,
//! downloaded through expiring links that ticketd serves at `GET /files/{key}`.
//!
//! A link is `{base_url}/files/{key}?expires=<unix seconds>&name=<download name>&sig=<mac>`,
//! where `mac` is HMAC-SHA256, under a secret kept in `<data-dir>/files-link.key` (32 random
//! bytes, mode 0600, made on first start), of the key, the expiry and the name (base64url). The
//! server recomputes it and compares in constant time, so no part of a link can be changed, and
//! refuses it once `expires` has passed.
//!
//! Keys are [`FileKey`]s, so they cannot climb out of the directory; the server also resolves
//! every path (symlinks included) and serves nothing whose real path is outside it. Writes go to
//! a temporary file in the same directory, then are renamed over the target: a reader sees the
//! old file or the new one, never part of one.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use ticket_core::files::MAX_LINK_TTL;
use ticket_core::{Clock, FileKey, FilesError, SystemClock, TicketFiles};

use local_support::secret_file;

type HmacSha256 = Hmac<Sha256>;

/// The files' directory, inside the data directory.
pub const FILES_DIR: &str = "files";
/// The link-signing secret, inside the data directory (outside the files' directory).
pub const SECRET_FILE: &str = "files-link.key";
/// Length of a generated secret, in bytes.
const SECRET_LEN: usize = 32;

/// Why a link is refused. All of them answer 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    /// A parameter is missing, repeated, unknown or not well formed.
    Malformed,
    /// The signature does not match the key, expiry and name.
    BadSignature,
    /// The link was valid until `expires`.
    Expired,
}

/// The download a verified link asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedLink {
    /// The file's name for the browser, as signed (not yet sanitised).
    pub name: String,
}

/// Ticket files in a directory, with HMAC-signed links.
pub struct LocalFiles {
    /// Canonical (symlink-free, absolute) path of the files' directory.
    root: PathBuf,
    /// Where ticketd is reached, without a trailing `/`.
    base_url: String,
    secret: Vec<u8>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for LocalFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalFiles")
            .field("root", &self.root)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl LocalFiles {
    /// Files in `root` (created if missing), links to `base_url` signed with `secret`.
    pub fn new(root: &Path, base_url: &str, secret: Vec<u8>) -> io::Result<Self> {
        if secret.len() < 16 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the link secret must be at least 16 bytes",
            ));
        }
        fs::create_dir_all(root)?;
        Ok(Self {
            root: root.canonicalize()?,
            base_url: base_url.trim_end_matches('/').to_owned(),
            secret,
            clock: Arc::new(SystemClock),
        })
    }

    /// ticketd's file store: files in `<data_dir>/files/`, links signed with the secret in
    /// `<data_dir>/files-link.key`, made on first use.
    pub fn open(data_dir: &Path, base_url: &str) -> io::Result<Self> {
        fs::create_dir_all(data_dir)?;
        let secret = secret_file::load_or_create(&data_dir.join(SECRET_FILE), || {
            let mut secret = vec![0u8; SECRET_LEN];
            getrandom::fill(&mut secret).map_err(io::Error::other)?;
            Ok(secret)
        })?;
        Self::new(&data_dir.join(FILES_DIR), base_url, secret)
    }

    /// Replaces the clock that stamps and checks expiry (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The canonical path of the files' directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn mac(&self, key: &str, expires: &str, name: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("HMAC takes any key length");
        // Unambiguous: a key has no newline and `expires` is digits only, so the name is
        // whatever follows the third newline.
        for part in ["ticketd-file-link-v1", key, expires, name] {
            mac.update(part.as_bytes());
            mac.update(b"\n");
        }
        mac
    }

    fn now_unix(&self) -> i64 {
        self.clock.now().timestamp()
    }

    /// A link to `key`, valid for `expires_in` (rounded up to whole seconds).
    pub fn link(
        &self,
        key: &FileKey,
        download_name: &str,
        expires_in: Duration,
    ) -> Result<String, FilesError> {
        if expires_in > MAX_LINK_TTL {
            return Err(FilesError::Invalid(format!(
                "a link may last at most {} seconds",
                MAX_LINK_TTL.as_secs()
            )));
        }
        let seconds = expires_in.as_secs() + u64::from(expires_in.subsec_nanos() > 0);
        let expires = (self.now_unix() + seconds as i64).to_string();
        let name = ticket_core::files::sanitize_download_name(download_name);
        let sig = URL_SAFE_NO_PAD.encode(
            self.mac(key.as_str(), &expires, &name)
                .finalize()
                .into_bytes(),
        );
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("expires", &expires)
            .append_pair("name", &name)
            .append_pair("sig", &sig)
            .finish();
        Ok(format!("{}/files/{key}?{query}", self.base_url))
    }

    /// Checks a link's query (`expires`, `name` and `sig`, each exactly once, nothing else) for
    /// `key`: the signature first, in constant time, then the expiry.
    pub fn verify_link(&self, key: &FileKey, query: &str) -> Result<VerifiedLink, LinkError> {
        let (mut expires, mut name, mut sig) = (None, None, None);
        for (param, value) in form_urlencoded::parse(query.as_bytes()) {
            let slot = match param.as_ref() {
                "expires" => &mut expires,
                "name" => &mut name,
                "sig" => &mut sig,
                _ => return Err(LinkError::Malformed),
            };
            if slot.replace(value).is_some() {
                return Err(LinkError::Malformed);
            }
        }
        let (Some(expires), Some(name), Some(sig)) = (expires, name, sig) else {
            return Err(LinkError::Malformed);
        };
        if expires.is_empty() || expires.len() > 18 || !expires.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(LinkError::Malformed);
        }
        let sig = URL_SAFE_NO_PAD
            .decode(sig.as_bytes())
            .map_err(|_| LinkError::Malformed)?;
        self.mac(key.as_str(), &expires, &name)
            .verify_slice(&sig)
            .map_err(|_| LinkError::BadSignature)?;
        let expires: i64 = expires.parse().map_err(|_| LinkError::Malformed)?;
        if self.now_unix() >= expires {
            return Err(LinkError::Expired);
        }
        Ok(VerifiedLink {
            name: name.into_owned(),
        })
    }

    /// The bytes of `key`, `None` if there is no such regular file inside the directory.
    pub async fn read(&self, key: &FileKey) -> Result<Option<Vec<u8>>, FilesError> {
        let root = self.root.clone();
        let key = key.clone();
        blocking("read", move || {
            let Some(path) = resolve_existing(&root, &key)? else {
                return Ok(None);
            };
            match fs::read(path) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(error) => Err(error),
            }
        })
        .await
    }
}

impl LinkError {
    /// What the client is told.
    pub fn message(self) -> &'static str {
        match self {
            Self::Malformed => "the download link is not valid",
            Self::BadSignature => "the download link is not valid",
            Self::Expired => "the download link has expired",
        }
    }
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for LinkError {}

/// `root` joined with the key's segments (lexically inside `root`: a key has no `..`).
fn lexical_path(root: &Path, key: &FileKey) -> PathBuf {
    let mut path = root.to_owned();
    path.extend(key.segments());
    path
}

/// The real path of `key` if it is an existing regular file whose real path (symlinks
/// resolved) is inside `root`.
fn resolve_existing(root: &Path, key: &FileKey) -> io::Result<Option<PathBuf>> {
    let real = match lexical_path(root, key).canonicalize() {
        Ok(real) => real,
        Err(error) if is_missing(&error) => return Ok(None),
        Err(error) => return Err(error),
    };
    if !real.starts_with(root) {
        tracing::warn!(%key, "file key resolves outside the file store: refused");
        return Ok(None);
    }
    match fs::metadata(&real) {
        Ok(metadata) => Ok(metadata.is_file().then_some(real)),
        Err(error) if is_missing(&error) => Ok(None),
        Err(error) => Err(error),
    }
}

/// The real directory that `key`'s file goes in, and the file's name there. `None` if the
/// directory does not exist (and `create` is false). An error if the directory resolves
/// outside `root`: a symlink planted in the store would otherwise redirect writes.
fn resolve_parent(root: &Path, key: &FileKey, create: bool) -> io::Result<Option<PathBuf>> {
    let path = lexical_path(root, key);
    let parent = path.parent().expect("a key has at least one segment");
    if create {
        fs::create_dir_all(parent)?;
    }
    let real = match parent.canonicalize() {
        Ok(real) => real,
        Err(error) if is_missing(&error) => return Ok(None),
        Err(error) => return Err(error),
    };
    if !real.starts_with(root) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("the directory of {key} resolves outside the file store"),
        ));
    }
    let file_name = path.file_name().expect("a key ends in a file name");
    Ok(Some(real.join(file_name)))
}

/// Not found, or a path component that is a file where a directory was expected.
fn is_missing(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

/// Runs blocking file work off the async threads, mapping I/O errors to the port's.
async fn blocking<T, F>(operation: &'static str, work: F) -> Result<T, FilesError>
where
    T: Send + 'static,
    F: FnOnce() -> io::Result<T> + Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(FilesError::Internal(format!(
            "file store {operation}: {error}"
        ))),
        Err(error) => Err(FilesError::Internal(format!(
            "file store {operation}: the task failed: {error}"
        ))),
    }
}

#[async_trait]
impl TicketFiles for LocalFiles {
    async fn put_pdf(&self, key: &FileKey, pdf: Vec<u8>) -> Result<(), FilesError> {
        let root = self.root.clone();
        let key = key.clone();
        blocking("write", move || {
            let target = resolve_parent(&root, &key, true)?.expect("the directory was created");
            let dir = target.parent().expect("a file has a directory");
            let mut file = tempfile::NamedTempFile::new_in(dir)?;
            file.write_all(&pdf)?;
            file.as_file().sync_all()?;
            // rename(2) over the target: atomic, and it replaces a symlink rather than follow it.
            file.persist(&target).map_err(|error| error.error)?;
            // The rename is durable once the directory is.
            File::open(dir)?.sync_all()?;
            Ok(())
        })
        .await
    }

    async fn download_url(
        &self,
        key: &FileKey,
        download_name: &str,
        expires_in: Duration,
    ) -> Result<String, FilesError> {
        self.link(key, download_name, expires_in)
    }

    async fn delete(&self, key: &FileKey) -> Result<(), FilesError> {
        let root = self.root.clone();
        let key = key.clone();
        blocking("delete", move || {
            let Some(target) = resolve_parent(&root, &key, false)? else {
                return Ok(());
            };
            match fs::remove_file(target) {
                Ok(()) => Ok(()),
                Err(error) if is_missing(&error) => Ok(()),
                Err(error) => Err(error),
            }
        })
        .await
    }

    async fn exists(&self, key: &FileKey) -> Result<bool, FilesError> {
        let root = self.root.clone();
        let key = key.clone();
        blocking("stat", move || Ok(resolve_existing(&root, &key)?.is_some())).await
    }
}

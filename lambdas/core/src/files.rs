//! The `TicketFiles` port: where ticket PDFs are kept and how attendees download them, through a
//! short-lived link. Adapters: S3 (presigned GET) and a directory served by `ticketd`
//! (HMAC-signed expiring link).
//!
//! Also the two pieces of text both adapters must get right: the [`FileKey`] (a relative key that
//! cannot name anything outside the store) and the `Content-Disposition` header that names the
//! downloaded file ([`content_disposition`]).

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

use crate::ids::{EventId, TicketId};

/// How long a download link works unless the caller says otherwise.
pub const DEFAULT_LINK_TTL: Duration = Duration::from_secs(15 * 60);

/// The longest a download link may work: S3's limit for presigned URLs, kept by every adapter.
pub const MAX_LINK_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// The media type every ticket file is stored and served with.
pub const PDF_CONTENT_TYPE: &str = "application/pdf";

/// The longest key [`FileKey::parse`] accepts.
pub const MAX_KEY_LEN: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilesError {
    /// A key or argument the port refuses (never a backend fault).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The backend could not do it now (throttled, unreachable): worth a retry.
    #[error("the file store is unavailable: {0}")]
    Unavailable(String),
    /// The backend failed in a way a retry will not fix.
    #[error("the file store failed: {0}")]
    Internal(String),
}

impl FilesError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// Where a file lives in the store: `/`-separated segments of `[A-Za-z0-9._-]`, none empty, `.`
/// or `..`, at most [`MAX_KEY_LEN`] characters. So a key is relative, and joined to a directory
/// it stays inside it; it is also safe, unescaped, in a URL path and an S3 key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileKey(String);

impl FileKey {
    /// `tickets/<eventId>/<ticketId>.pdf`.
    pub fn for_ticket(event_id: EventId, ticket_id: TicketId) -> Self {
        Self(format!("tickets/{event_id}/{ticket_id}.pdf"))
    }

    /// The ticket's PDF as drawn for the event's `version`: [`FileKey::for_ticket`] (the file
    /// the registration draws) for the first, `tickets/<eventId>/<ticketId>-v<version>.pdf`
    /// for each edit's, drawn again with the edited details.
    pub fn for_ticket_version(event_id: EventId, ticket_id: TicketId, version: u32) -> Self {
        match version {
            0 | 1 => Self::for_ticket(event_id, ticket_id),
            _ => Self(format!("tickets/{event_id}/{ticket_id}-v{version}.pdf")),
        }
    }

    pub fn parse(text: &str) -> Result<Self, FilesError> {
        let refuse = |why: &str| Err(FilesError::Invalid(format!("file key {why}")));
        if text.is_empty() {
            return refuse("is empty");
        }
        if text.len() > MAX_KEY_LEN {
            return refuse("is too long");
        }
        for segment in text.split('/') {
            if segment.is_empty() || segment == "." || segment == ".." {
                return refuse("has an empty, `.` or `..` segment");
            }
            let allowed = |byte: u8| byte.is_ascii_alphanumeric() || b"._-".contains(&byte);
            if !segment.bytes().all(allowed) {
                return refuse("has a character outside [A-Za-z0-9._-/]");
            }
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key's segments, in order: each a plain file or directory name.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

impl fmt::Display for FileKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for FileKey {
    type Err = FilesError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

#[async_trait]
pub trait TicketFiles: Send + Sync {
    /// Stores `pdf` under `key`, replacing what was there. A reader sees the old file or the new
    /// one, never part of one.
    async fn put_pdf(&self, key: &FileKey, pdf: Vec<u8>) -> Result<(), FilesError>;

    /// A link that downloads the file for `expires_in`, as an attachment named `download_name`
    /// (sanitised with [`sanitize_download_name`]). Making a link does not check the file exists:
    /// fetching a link to a missing file fails. `Invalid` if `expires_in` exceeds
    /// [`MAX_LINK_TTL`].
    async fn download_url(
        &self,
        key: &FileKey,
        download_name: &str,
        expires_in: Duration,
    ) -> Result<String, FilesError>;

    /// Removes the file. Idempotent: removing a missing file is `Ok`.
    async fn delete(&self, key: &FileKey) -> Result<(), FilesError>;

    async fn exists(&self, key: &FileKey) -> Result<bool, FilesError>;
}

/// The longest download name kept, in characters.
const MAX_NAME_CHARS: usize = 120;

/// What a download is called when the asked-for name has nothing usable left.
pub const FALLBACK_DOWNLOAD_NAME: &str = "ticket.pdf";

/// A download name safe to hand to a browser: no control characters, no path separators, no
/// leading or trailing dots or spaces, whitespace runs collapsed to one space, at most 120
/// characters; `ticket.pdf` if nothing is left. Unicode letters are kept.
pub fn sanitize_download_name(name: &str) -> String {
    let mut clean = String::with_capacity(name.len());
    let mut space = false;
    for ch in name.chars() {
        let ch = if ch == '/' || ch == '\\' { '_' } else { ch };
        if ch.is_whitespace() || ch.is_control() {
            space = true;
            continue;
        }
        if is_invisible(ch) {
            continue;
        }
        if space && !clean.is_empty() {
            clean.push(' ');
        }
        space = false;
        clean.push(ch);
    }
    let clean: String = clean.chars().take(MAX_NAME_CHARS).collect();
    let clean = clean.trim_matches(|ch: char| ch == '.' || ch.is_whitespace());
    if clean.is_empty() {
        FALLBACK_DOWNLOAD_NAME.to_owned()
    } else {
        clean.to_owned()
    }
}

/// Formatting characters that can disguise a name (bidi overrides, zero-width marks).
fn is_invisible(ch: char) -> bool {
    matches!(ch, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// The `Content-Disposition` value of a download named `name` (RFC 6266): `attachment`, a
/// quoted ASCII `filename` for old clients (non-ASCII characters, `"`, `\` and `%` become `_`)
/// and `filename*=UTF-8''…` (RFC 5987) with the full name, which current browsers prefer.
pub fn content_disposition(name: &str) -> String {
    let name = sanitize_download_name(name);
    let ascii: String = name
        .chars()
        .map(|ch| match ch {
            ' '..='~' if !matches!(ch, '"' | '\\' | '%') => ch,
            _ => '_',
        })
        .collect();
    format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        rfc5987_encode(&name)
    )
}

/// Percent-encodes every byte that is not an RFC 5987 `attr-char`.
fn rfc5987_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn ticket_keys_name_event_and_ticket() {
        let event = EventId::from(Uuid::nil());
        let ticket = TicketId::from(Uuid::max());
        let key = FileKey::for_ticket(event, ticket);
        assert_eq!(
            key.as_str(),
            "tickets/00000000-0000-0000-0000-000000000000/ffffffff-ffff-ffff-ffff-ffffffffffff.pdf"
        );
        assert_eq!(FileKey::parse(key.as_str()), Ok(key.clone()));
        assert_eq!(FileKey::for_ticket_version(event, ticket, 1), key);
        let edited = FileKey::for_ticket_version(event, ticket, 3);
        assert_eq!(
            edited.as_str(),
            "tickets/00000000-0000-0000-0000-000000000000/ffffffff-ffff-ffff-ffff-ffffffffffff-v3.pdf"
        );
        assert_eq!(FileKey::parse(edited.as_str()), Ok(edited));
    }

    #[test]
    fn keys_accept_plain_relative_paths() {
        for text in [
            "a",
            "tickets/e/t.pdf",
            "A-b_c.d/..x/x..",
            ".hidden",
            "x".repeat(256).as_str(),
        ] {
            assert!(FileKey::parse(text).is_ok(), "{text}");
        }
    }

    #[test]
    fn keys_refuse_anything_that_could_leave_the_store() {
        for text in [
            "",
            "/abs.pdf",
            "a//b",
            "a/",
            ".",
            "..",
            "../x",
            "a/../b",
            "a/./b",
            "a\\b",
            "..\\x",
            "a b",
            "a%2e%2e",
            "é.pdf",
            "a\0b",
            "C:x",
            "a?b",
            "a#b",
            &"x".repeat(257),
        ] {
            assert!(
                matches!(FileKey::parse(text), Err(FilesError::Invalid(_))),
                "{text:?}"
            );
        }
    }

    #[test]
    fn download_names_are_cleaned() {
        assert_eq!(sanitize_download_name("ticket.pdf"), "ticket.pdf");
        assert_eq!(
            sanitize_download_name("  Zoë's  ticket\t\n.pdf "),
            "Zoë's ticket .pdf"
        );
        assert_eq!(sanitize_download_name("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(
            sanitize_download_name("a\r\nSet-Cookie: x"),
            "a Set-Cookie: x"
        );
        assert_eq!(sanitize_download_name("evil\u{202E}fdp.exe"), "evilfdp.exe");
        assert_eq!(sanitize_download_name(" .. "), FALLBACK_DOWNLOAD_NAME);
        assert_eq!(sanitize_download_name(""), FALLBACK_DOWNLOAD_NAME);
        assert_eq!(
            sanitize_download_name(&"é".repeat(500)).chars().count(),
            120
        );
    }

    #[test]
    fn content_disposition_has_an_ascii_and_a_utf8_name() {
        assert_eq!(
            content_disposition("ticket.pdf"),
            "attachment; filename=\"ticket.pdf\"; filename*=UTF-8''ticket.pdf"
        );
        assert_eq!(
            content_disposition("Zoë \"100%\" ✓.pdf"),
            "attachment; filename=\"Zo_ _100__ _.pdf\"; \
             filename*=UTF-8''Zo%C3%AB%20%22100%25%22%20%E2%9C%93.pdf"
        );
        let header = content_disposition("a\r\nb;c\\d");
        assert!(
            header.bytes().all(|byte| (b' '..=b'~').contains(&byte)),
            "{header}"
        );
    }
}

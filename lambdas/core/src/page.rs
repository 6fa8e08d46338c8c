//! Cursor paging. A cursor is opaque to callers: base64url of the adapter's own position.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Serialize, de::DeserializeOwned};

pub const DEFAULT_PAGE_SIZE: u32 = 20;
pub const MAX_PAGE_SIZE: u32 = 100;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    limit: Option<u32>,
    pub cursor: Option<String>,
}

impl PageRequest {
    pub fn first(limit: u32) -> Self {
        Self {
            limit: Some(limit),
            cursor: None,
        }
    }

    pub fn after(limit: u32, cursor: impl Into<String>) -> Self {
        Self {
            limit: Some(limit),
            cursor: Some(cursor.into()),
        }
    }

    /// The page size, kept within `1..=MAX_PAGE_SIZE`.
    pub fn limit(&self) -> u32 {
        self.limit
            .unwrap_or(DEFAULT_PAGE_SIZE)
            .clamp(1, MAX_PAGE_SIZE)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Present when more items may follow.
    pub next_cursor: Option<String>,
}

/// Encodes an adapter's position as a cursor.
pub fn encode_cursor<P: Serialize>(position: &P) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(position).expect("positions serialise"))
}

/// A cursor that [`encode_cursor`] did not make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidCursor;

/// Decodes a cursor made by [`encode_cursor`]; anything else is [`InvalidCursor`].
pub fn decode_cursor<P: DeserializeOwned>(cursor: &str) -> Result<P, InvalidCursor> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| InvalidCursor)?;
    serde_json::from_slice(&bytes).map_err(|_| InvalidCursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let cursor = encode_cursor(&("2026-01-01T00:00:00.000Z", "abc"));
        let back: (String, String) = decode_cursor(&cursor).unwrap();
        assert_eq!(back, ("2026-01-01T00:00:00.000Z".into(), "abc".into()));
        assert!(matches!(
            decode_cursor::<(String, String)>("!!not base64"),
            Err(InvalidCursor)
        ));
        assert!(matches!(
            decode_cursor::<(String, String)>(&encode_cursor(&42)),
            Err(InvalidCursor)
        ));
    }

    #[test]
    fn limits_are_clamped() {
        assert_eq!(PageRequest::default().limit(), DEFAULT_PAGE_SIZE);
        assert_eq!(PageRequest::first(0).limit(), 1);
        assert_eq!(PageRequest::first(1000).limit(), MAX_PAGE_SIZE);
    }
}

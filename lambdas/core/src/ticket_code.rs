//! Signed ticket codes: what a ticket's QR code carries.
//!
//! A code names a ticket and its event and carries an Ed25519 signature over both, so a forged,
//! altered or guessed code is rejected without a lookup and a scanner can check codes offline
//! with nothing but the public keys.
//!
//! # Format (version 1)
//!
//! ```text
//! T1.<KEYID>.<BODY>
//! ```
//!
//! - `T1.` names the format version.
//! - `KEYID` names the signing key, so keys can rotate: 1 to 8 characters `0-9A-Z`
//!   ([`KeyId`]).
//! - `BODY` is RFC 4648 base32 (upper case, no padding) of 96 bytes:
//!   `ticket id (16) || event id (16) || signature (64)`, the ids as their UUID bytes (big
//!   endian, as [`Uuid::as_bytes`]). That is always [`BODY_LEN`] = 154 characters, whose last 2
//!   bits must be zero, so each payload has exactly one body.
//! - The signature is Ed25519 over `b"ticket-code:v1" || len(KEYID) as one byte || KEYID ||
//!   ticket id || event id`. The key id is signed too, so a code cannot be relabelled to
//!   another key id, even one holding the same key.
//!
//! A code is [`code_len`]`(key id length)` characters: 160 with a 2-character key id, at most
//! [`MAX_CODE_LEN`] = 166. Every character is in the QR alphanumeric set (`0-9A-Z $%*+-./:`), which
//! packs 5.5 bits a character instead of byte mode's 8: a code fits a version 7 QR code
//! (45 × 45 modules) at error correction M, whatever its key id.
//!
//! # Verification
//!
//! [`TicketVerifier::verify`] trims surrounding whitespace and accepts lower case (manual entry,
//! scanners that fold case): upper-casing is a one-to-one map on this alphabet and the signature
//! covers the decoded bytes, so nothing a forger could not already do becomes possible. Nothing
//! else is tolerated: no inner whitespace, no padding, no other separators, no trailing bits.
//! Errors come in order: [`CodeError::Malformed`] (not a version-1 code at all), then
//! [`CodeError::UnknownKey`], then [`CodeError::BadSignature`]. Signatures are checked with
//! `verify_strict` (no small-order keys or `R`, canonical `s` only).
//!
//! # Key texts
//!
//! For configuration and for scanners:
//! - public key: `KEYID:<base64url, no padding, of the 32-byte Ed25519 public key>`
//!   ([`TicketPublicKey`]);
//! - secret key: `KEYID:secret:<base64url, no padding, of the 32-byte seed>`
//!   ([`TicketSigner::to_secret_text`]). The `secret` marker keeps one from being taken for the
//!   other: a secret key given where public keys are expected is refused, not published.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use data_encoding::BASE32_NOPAD;
use ed25519_dalek::{Signature, Signer as _};
use uuid::Uuid;

pub use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::ids::{EventId, TicketId};

/// The version prefix of codes this module writes and reads.
pub const PREFIX: &str = "T1.";
/// Longest key id, in characters.
pub const MAX_KEY_ID_LEN: usize = 8;
/// Bytes under the body: ticket id, event id, signature.
const PAYLOAD_LEN: usize = 16 + 16 + 64;
/// Characters of the base32 body: `ceil(96 * 8 / 5)`.
pub const BODY_LEN: usize = (PAYLOAD_LEN * 8).div_ceil(5);
/// Longest code (8-character key id).
pub const MAX_CODE_LEN: usize = code_len(MAX_KEY_ID_LEN);
/// Domain separation of the signed message.
const DOMAIN: &[u8] = b"ticket-code:v1";
/// Marks the secret key text.
const SECRET_MARKER: &str = "secret";

/// Length in characters of a code signed under a key id of `key_id_len` characters.
pub const fn code_len(key_id_len: usize) -> usize {
    PREFIX.len() + key_id_len + 1 + BODY_LEN
}

/// Names a signing key: 1 to [`MAX_KEY_ID_LEN`] characters `0-9A-Z`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    /// Checks `text` is a key id. Lower case is refused here (configuration is exact); codes are
    /// upper-cased before their key id is read.
    pub fn new(text: &str) -> Result<Self, KeyError> {
        let valid = (1..=MAX_KEY_ID_LEN).contains(&text.len())
            && text
                .bytes()
                .all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit());
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(KeyError::InvalidKeyId(text.chars().take(32).collect()))
        }
    }

    /// A key id derived from a public key: base32 of its first 5 bytes (8 characters). Distinct
    /// keys get distinct ids but for a 2^-40 chance, with no registry of ids to keep.
    pub fn derived_from(key: &VerifyingKey) -> Self {
        Self(BASE32_NOPAD.encode(&key.as_bytes()[..5]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for KeyId {
    type Err = KeyError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::new(text)
    }
}

/// Why a ticket code was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Not a version-1 ticket code: wrong prefix, key id, length or characters.
    #[error("not a valid ticket code: {0}")]
    Malformed(&'static str),
    /// Well formed, but signed with a key this verifier does not know.
    #[error("ticket code signed with unknown key {0}")]
    UnknownKey(KeyId),
    /// Well formed and the key is known, but the signature does not match: forged or altered.
    #[error("ticket code signature does not verify")]
    BadSignature,
}

/// Why a key id or key text was refused. Never contains secret key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("invalid key id {0:?}: use 1 to 8 characters 0-9 and A-Z")]
    InvalidKeyId(String),
    #[error("malformed {what}: expected {expected}")]
    Malformed {
        what: &'static str,
        expected: &'static str,
    },
    #[error("{0}: not base64url without padding")]
    BadEncoding(&'static str),
    #[error("{what}: expected 32 bytes, got {got}")]
    WrongLength { what: &'static str, got: usize },
    #[error("public key of {0} is not a usable Ed25519 key (invalid or small-order point)")]
    InvalidPublicKey(KeyId),
    #[error("a secret signing key (KEYID:secret:...) was given where a public key was expected")]
    SecretNotPublic,
    #[error("key id {0} given twice")]
    DuplicateKeyId(KeyId),
}

/// What a valid code says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCode {
    pub ticket_id: TicketId,
    pub event_id: EventId,
    pub key_id: KeyId,
}

/// Signs ticket codes with one key. Its `Debug` shows the key id and public key only.
#[derive(Clone)]
pub struct TicketSigner {
    key_id: KeyId,
    key: SigningKey,
}

impl TicketSigner {
    pub fn new(key_id: KeyId, key: SigningKey) -> Self {
        Self { key_id, key }
    }

    /// A new key from the operating system's random source.
    pub fn generate(key_id: KeyId) -> Self {
        Self::new(key_id, SigningKey::generate(&mut rand_core::OsRng))
    }

    /// A new key named by [`KeyId::derived_from`] its public key.
    pub fn generate_with_derived_id() -> Self {
        let key = SigningKey::generate(&mut rand_core::OsRng);
        Self::new(KeyId::derived_from(&key.verifying_key()), key)
    }

    /// The key whose 32-byte secret seed is `seed`.
    pub fn from_seed(key_id: KeyId, seed: &[u8; 32]) -> Self {
        Self::new(key_id, SigningKey::from_bytes(seed))
    }

    /// The 32-byte secret seed. Keep it secret.
    pub fn to_seed(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The public half, for verifiers and scanners.
    pub fn public_key(&self) -> TicketPublicKey {
        TicketPublicKey {
            key_id: self.key_id.clone(),
            key: self.verifying_key(),
        }
    }

    /// A verifier that knows this signer's key only.
    pub fn verifier(&self) -> TicketVerifier {
        TicketVerifier::new().with_public_key(self.public_key())
    }

    /// The code for `ticket` of `event`.
    pub fn sign(&self, ticket: TicketId, event: EventId) -> String {
        let ticket = ticket.as_uuid().as_bytes();
        let event = event.as_uuid().as_bytes();
        let signature = self.key.sign(&message(&self.key_id, ticket, event));
        let mut payload = [0u8; PAYLOAD_LEN];
        payload[..16].copy_from_slice(ticket);
        payload[16..32].copy_from_slice(event);
        payload[32..].copy_from_slice(&signature.to_bytes());
        let mut code = String::with_capacity(code_len(self.key_id.0.len()));
        code.push_str(PREFIX);
        code.push_str(&self.key_id.0);
        code.push('.');
        BASE32_NOPAD.encode_append(&payload, &mut code);
        code
    }

    /// `KEYID:secret:<base64url seed>`, for configuration. Keep it secret.
    pub fn to_secret_text(&self) -> String {
        format!(
            "{}:{SECRET_MARKER}:{}",
            self.key_id,
            URL_SAFE_NO_PAD.encode(self.key.as_bytes())
        )
    }

    /// Reads [`Self::to_secret_text`]'s form; surrounding whitespace is ignored.
    pub fn from_secret_text(text: &str) -> Result<Self, KeyError> {
        const WHAT: &str = "secret key";
        let malformed = KeyError::Malformed {
            what: WHAT,
            expected: "KEYID:secret:BASE64URL",
        };
        let mut parts = text.trim().split(':');
        let (Some(key_id), Some(SECRET_MARKER), Some(seed), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed);
        };
        let key_id = KeyId::new(key_id)?;
        let seed = decode_32(WHAT, seed)?;
        Ok(Self::from_seed(key_id, &seed))
    }
}

impl fmt::Debug for TicketSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TicketSigner")
            .field("key_id", &self.key_id)
            .field("public_key", &self.public_key().to_string())
            .finish_non_exhaustive()
    }
}

/// A public key under its key id; its text form is `KEYID:<base64url public key>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketPublicKey {
    key_id: KeyId,
    key: VerifyingKey,
}

impl TicketPublicKey {
    /// Refuses small-order keys, which would verify forged signatures under plain `verify`.
    pub fn new(key_id: KeyId, key: VerifyingKey) -> Result<Self, KeyError> {
        if key.is_weak() {
            return Err(KeyError::InvalidPublicKey(key_id));
        }
        Ok(Self { key_id, key })
    }

    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }
}

impl fmt::Display for TicketPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}",
            self.key_id,
            URL_SAFE_NO_PAD.encode(self.key.as_bytes())
        )
    }
}

impl FromStr for TicketPublicKey {
    type Err = KeyError;
    /// Reads `KEYID:<base64url>`; surrounding whitespace is ignored.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        const WHAT: &str = "public key";
        let text = text.trim();
        if text.split(':').nth(1) == Some(SECRET_MARKER) {
            return Err(KeyError::SecretNotPublic);
        }
        let Some((key_id, key)) = text.split_once(':') else {
            return Err(KeyError::Malformed {
                what: WHAT,
                expected: "KEYID:BASE64URL",
            });
        };
        let key_id = KeyId::new(key_id)?;
        let bytes = decode_32(WHAT, key)?;
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| KeyError::InvalidPublicKey(key_id.clone()))?;
        Self::new(key_id, key)
    }
}

/// Checks codes against the public keys it holds, by key id, so codes signed by retired keys
/// keep verifying while their key is kept.
#[derive(Debug, Clone, Default)]
pub struct TicketVerifier {
    keys: BTreeMap<KeyId, VerifyingKey>,
}

impl TicketVerifier {
    /// A verifier that knows no key (and so rejects every code).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the key named `key_id`. A small-order key is accepted here but verifies
    /// nothing (`verify_strict`); [`TicketPublicKey::new`] refuses it up front.
    pub fn with_key(mut self, key_id: KeyId, key: VerifyingKey) -> Self {
        self.keys.insert(key_id, key);
        self
    }

    pub fn with_public_key(self, key: TicketPublicKey) -> Self {
        self.with_key(key.key_id, key.key)
    }

    /// A verifier from public key texts (`KEYID:<base64url>` each). A key id given twice is an
    /// error, even with the same key.
    pub fn from_public_keys<I>(keys: I) -> Result<Self, KeyError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut verifier = Self::new();
        for text in keys {
            let key: TicketPublicKey = text.as_ref().parse()?;
            if verifier.keys.contains_key(&key.key_id) {
                return Err(KeyError::DuplicateKeyId(key.key_id));
            }
            verifier = verifier.with_public_key(key);
        }
        Ok(verifier)
    }

    /// The key ids known, in order.
    pub fn key_ids(&self) -> impl Iterator<Item = &KeyId> {
        self.keys.keys()
    }

    /// Checks `code` (see the module docs for what is tolerated) and says what it names.
    pub fn verify(&self, code: &str) -> Result<VerifiedCode, CodeError> {
        let parsed = parse(code)?;
        let key = self
            .keys
            .get(&parsed.key_id)
            .ok_or_else(|| CodeError::UnknownKey(parsed.key_id.clone()))?;
        let ticket: &[u8; 16] = parsed.payload[..16].try_into().expect("16 bytes");
        let event: &[u8; 16] = parsed.payload[16..32].try_into().expect("16 bytes");
        let signature: &[u8; 64] = parsed.payload[32..].try_into().expect("64 bytes");
        key.verify_strict(
            &message(&parsed.key_id, ticket, event),
            &Signature::from_bytes(signature),
        )
        .map_err(|_| CodeError::BadSignature)?;
        Ok(VerifiedCode {
            ticket_id: TicketId::from(Uuid::from_bytes(*ticket)),
            event_id: EventId::from(Uuid::from_bytes(*event)),
            key_id: parsed.key_id,
        })
    }
}

struct ParsedCode {
    key_id: KeyId,
    payload: [u8; PAYLOAD_LEN],
}

fn parse(code: &str) -> Result<ParsedCode, CodeError> {
    let code = code.trim();
    if code.len() > MAX_CODE_LEN {
        return Err(CodeError::Malformed("too long"));
    }
    let code = code.to_ascii_uppercase();
    let rest = code
        .strip_prefix(PREFIX)
        .ok_or(CodeError::Malformed("does not start with T1."))?;
    let (key_id, body) = rest
        .split_once('.')
        .ok_or(CodeError::Malformed("no '.' after the key id"))?;
    let key_id = KeyId::new(key_id).map_err(|_| CodeError::Malformed("invalid key id"))?;
    if body.len() != BODY_LEN {
        return Err(CodeError::Malformed("wrong length"));
    }
    let mut payload = [0u8; PAYLOAD_LEN];
    match BASE32_NOPAD.decode_mut(body.as_bytes(), &mut payload) {
        Ok(PAYLOAD_LEN) => Ok(ParsedCode { key_id, payload }),
        _ => Err(CodeError::Malformed("invalid base32")),
    }
}

/// The signed message: domain, key id (length-prefixed), ticket id, event id.
fn message(key_id: &KeyId, ticket: &[u8; 16], event: &[u8; 16]) -> Vec<u8> {
    let key_id = key_id.0.as_bytes();
    let mut message = Vec::with_capacity(DOMAIN.len() + 1 + key_id.len() + 32);
    message.extend_from_slice(DOMAIN);
    message.push(u8::try_from(key_id.len()).expect("key ids are at most 8 bytes"));
    message.extend_from_slice(key_id);
    message.extend_from_slice(ticket);
    message.extend_from_slice(event);
    message
}

fn decode_32(what: &'static str, text: &str) -> Result<[u8; 32], KeyError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| KeyError::BadEncoding(what))?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| KeyError::WrongLength {
        what,
        got: bytes.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BASE32_ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

    fn key_id(text: &str) -> KeyId {
        KeyId::new(text).unwrap()
    }

    fn signer(id: &str, seed_byte: u8) -> TicketSigner {
        TicketSigner::from_seed(key_id(id), &[seed_byte; 32])
    }

    fn ids() -> (TicketId, EventId) {
        (
            TicketId::from(Uuid::parse_str("0190f5a2-7c3e-7b21-9d4e-5f6a7b8c9d0e").unwrap()),
            EventId::from(Uuid::parse_str("0190f5a2-0000-7000-8000-000000000001").unwrap()),
        )
    }

    #[test]
    fn round_trip() {
        let signer = signer("K1", 7);
        let (ticket, event) = ids();
        let code = signer.sign(ticket, event);
        assert!(code.starts_with("T1.K1."), "{code}");
        let verified = signer.verifier().verify(&code).unwrap();
        assert_eq!(
            verified,
            VerifiedCode {
                ticket_id: ticket,
                event_id: event,
                key_id: key_id("K1")
            }
        );
    }

    #[test]
    fn signing_is_deterministic_and_binds_both_ids() {
        let signer = signer("K1", 7);
        let (ticket, event) = ids();
        assert_eq!(signer.sign(ticket, event), signer.sign(ticket, event));
        assert_ne!(
            signer.sign(ticket, event),
            signer.sign(ticket, EventId::from(*ticket.as_uuid()))
        );
    }

    #[test]
    fn code_length_is_fixed() {
        let (ticket, event) = ids();
        let code = signer("K1", 7).sign(ticket, event);
        assert_eq!(BODY_LEN, 154);
        assert_eq!(code.len(), 160);
        assert_eq!(code.len(), code_len(2));
        let longest = signer("ABCDEFGH", 7).sign(ticket, event);
        assert_eq!(longest.len(), 166);
        assert_eq!(MAX_CODE_LEN, 166);
        let derived = TicketSigner::generate_with_derived_id();
        assert_eq!(derived.sign(ticket, event).len(), 166);
    }

    #[test]
    fn code_uses_only_qr_alphanumeric_characters() {
        let (ticket, event) = ids();
        let code = signer("Z9", 3).sign(ticket, event);
        let qr_alphanumeric = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
        assert!(code.chars().all(|c| qr_alphanumeric.contains(c)), "{code}");
    }

    #[test]
    fn whitespace_around_and_lower_case_are_accepted() {
        let signer = signer("K1", 7);
        let (ticket, event) = ids();
        let code = signer.sign(ticket, event);
        let verifier = signer.verifier();
        for variant in [
            format!("  {code}\r\n"),
            code.to_ascii_lowercase(),
            format!("\t{}", code.to_ascii_lowercase()),
        ] {
            assert_eq!(verifier.verify(&variant).unwrap().ticket_id, ticket);
        }
        let (head, tail) = code.split_at(40);
        for variant in [
            format!("{head} {tail}"),
            format!("{code}="),
            format!("{code}A"),
        ] {
            assert!(matches!(
                verifier.verify(&variant),
                Err(CodeError::Malformed(_))
            ));
        }
    }

    /// Every single-character change is rejected, with the error its position calls for; the
    /// only accepted change is a letter's case.
    #[test]
    fn every_single_character_change_is_rejected() {
        let signer = signer("K1", 7);
        let (ticket, event) = ids();
        let code = signer.sign(ticket, event);
        let verifier = signer.verifier();
        let body_start = "T1.K1.".len();
        let candidates: Vec<char> =
            "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz $%*+-./:=_é\0"
                .chars()
                .collect();
        let mut checked = 0;
        for (position, original) in code.char_indices() {
            for &replacement in &candidates {
                if replacement == original {
                    continue;
                }
                let mut tampered = code.clone();
                tampered
                    .replace_range(position..position + 1, replacement.encode_utf8(&mut [0; 4]));
                let result = verifier.verify(&tampered);
                if replacement.to_ascii_uppercase() == original {
                    assert!(
                        result.is_ok(),
                        "case change at {position} refused: {result:?}"
                    );
                    continue;
                }
                let upper = replacement.to_ascii_uppercase();
                let expected = match position {
                    // "T1." and the '.' after the key id.
                    0..=2 | 5 => "malformed",
                    // The key id: another valid id is a key this verifier does not know.
                    3 | 4 if upper.is_ascii_alphanumeric() => "unknown key",
                    3 | 4 => "malformed",
                    _ => match BASE32_ALPHABET.find(upper) {
                        None => "malformed",
                        // The last character holds 3 payload bits and 2 bits that must be zero.
                        Some(value) if position == code.len() - 1 && value & 0b11 != 0 => {
                            "malformed"
                        }
                        Some(_) => "bad signature",
                    },
                };
                let got = match &result {
                    Err(CodeError::Malformed(_)) => "malformed",
                    Err(CodeError::UnknownKey(_)) => "unknown key",
                    Err(CodeError::BadSignature) => "bad signature",
                    Ok(_) => "accepted",
                };
                assert_eq!(
                    got,
                    expected,
                    "position {position} ({}), {original:?} -> {replacement:?}",
                    if position < body_start {
                        "header"
                    } else {
                        "body"
                    }
                );
                checked += 1;
            }
        }
        assert!(checked > 160 * 60, "{checked}");
    }

    #[test]
    fn tampered_ticket_signature_and_key_id_are_rejected() {
        let signer = signer("K1", 7);
        let (ticket, event) = ids();
        let code = signer.sign(ticket, event);
        let verifier = signer
            .verifier()
            .with_key(key_id("K2"), signer.verifying_key());
        let flip = |position: usize| {
            let mut bytes = code.clone().into_bytes();
            bytes[position] = if bytes[position] == b'A' { b'B' } else { b'A' };
            String::from_utf8(bytes).unwrap()
        };
        // In the ticket id, the event id and the signature.
        for position in [6, 6 + 30, 6 + 60, code.len() - 2] {
            assert_eq!(
                verifier.verify(&flip(position)),
                Err(CodeError::BadSignature)
            );
        }
        // Relabelled to another key id holding the very same key: the key id is signed.
        let relabelled = code.replacen("T1.K1.", "T1.K2.", 1);
        assert_eq!(verifier.verify(&relabelled), Err(CodeError::BadSignature));
        // Relabelled to a key id nobody knows.
        let unknown = code.replacen("T1.K1.", "T1.K3.", 1);
        assert_eq!(
            verifier.verify(&unknown),
            Err(CodeError::UnknownKey(key_id("K3")))
        );
    }

    #[test]
    fn swapped_ids_are_rejected() {
        let signer = signer("K1", 7);
        let (ticket, event) = ids();
        let code = signer.sign(ticket, event);
        let mut payload = BASE32_NOPAD.decode(&code.as_bytes()[6..]).unwrap();
        let (ids, _) = payload.split_at_mut(32);
        let (a, b) = ids.split_at_mut(16);
        a.swap_with_slice(b);
        let swapped = format!("T1.K1.{}", BASE32_NOPAD.encode(&payload));
        assert_eq!(
            signer.verifier().verify(&swapped),
            Err(CodeError::BadSignature)
        );
    }

    #[test]
    fn every_truncation_is_malformed() {
        let signer = signer("K1", 7);
        let (ticket, event) = ids();
        let code = signer.sign(ticket, event);
        let verifier = signer.verifier();
        for length in 0..code.len() {
            let result = verifier.verify(&code[..length]);
            assert!(
                matches!(result, Err(CodeError::Malformed(_))),
                "length {length}: {result:?}"
            );
            let result = verifier.verify(&code[code.len() - length..]);
            assert!(
                matches!(result, Err(CodeError::Malformed(_))),
                "suffix {length}: {result:?}"
            );
        }
    }

    #[test]
    fn long_input_is_refused_up_front() {
        let verifier = signer("K1", 7).verifier();
        let long = "A".repeat(1_000_000);
        assert_eq!(
            verifier.verify(&long),
            Err(CodeError::Malformed("too long"))
        );
    }

    #[test]
    fn unknown_key_and_other_signers_key() {
        let (ticket, event) = ids();
        let code = signer("K9", 1).sign(ticket, event);
        let verifier = signer("K1", 7).verifier();
        assert_eq!(
            verifier.verify(&code),
            Err(CodeError::UnknownKey(key_id("K9")))
        );
        assert_eq!(
            TicketVerifier::new().verify(&code),
            Err(CodeError::UnknownKey(key_id("K9")))
        );
        // Same key id, different key: a forger who picked a known key id.
        let forged = signer("K1", 8).sign(ticket, event);
        assert_eq!(verifier.verify(&forged), Err(CodeError::BadSignature));
    }

    #[test]
    fn rotation_two_keys_both_verify() {
        let old = signer("K1", 1);
        let new = TicketSigner::generate(key_id("K2"));
        let verifier = TicketVerifier::from_public_keys([
            old.public_key().to_string(),
            new.public_key().to_string(),
        ])
        .unwrap();
        assert_eq!(
            verifier.key_ids().map(KeyId::as_str).collect::<Vec<_>>(),
            ["K1", "K2"]
        );
        let (ticket, event) = ids();
        for signer in [&old, &new] {
            let verified = verifier.verify(&signer.sign(ticket, event)).unwrap();
            assert_eq!(&verified.key_id, signer.key_id());
            assert_eq!((verified.ticket_id, verified.event_id), (ticket, event));
        }
    }

    #[test]
    fn secret_text_round_trip() {
        let signer = TicketSigner::generate(key_id("A1"));
        let text = signer.to_secret_text();
        assert!(text.starts_with("A1:secret:"), "{text}");
        assert_eq!(text.len(), "A1:secret:".len() + 43);
        let back = TicketSigner::from_secret_text(&format!(" {text}\n")).unwrap();
        assert_eq!(back.key_id(), signer.key_id());
        assert_eq!(back.to_seed(), signer.to_seed());
        let (ticket, event) = ids();
        assert_eq!(back.sign(ticket, event), signer.sign(ticket, event));
    }

    #[test]
    fn secret_text_errors() {
        let signer = signer("K1", 7);
        let public = signer.public_key().to_string();
        let secret = signer.to_secret_text();
        let seed = secret.rsplit(':').next().unwrap();
        let malformed = KeyError::Malformed {
            what: "secret key",
            expected: "KEYID:secret:BASE64URL",
        };
        assert_eq!(
            TicketSigner::from_secret_text(&public).unwrap_err(),
            malformed
        );
        assert_eq!(TicketSigner::from_secret_text("").unwrap_err(), malformed);
        assert_eq!(
            TicketSigner::from_secret_text(&format!("{secret}:x")).unwrap_err(),
            malformed
        );
        assert_eq!(
            TicketSigner::from_secret_text(&format!("k1:secret:{seed}")).unwrap_err(),
            KeyError::InvalidKeyId("k1".into())
        );
        assert_eq!(
            TicketSigner::from_secret_text("K1:secret:not base64!").unwrap_err(),
            KeyError::BadEncoding("secret key")
        );
        assert_eq!(
            TicketSigner::from_secret_text(&format!("K1:secret:{}", &seed[..40])).unwrap_err(),
            KeyError::WrongLength {
                what: "secret key",
                got: 30
            }
        );
        let message = TicketSigner::from_secret_text(&format!("k1:secret:{seed}"))
            .unwrap_err()
            .to_string();
        assert!(!message.contains(seed), "{message}");
    }

    #[test]
    fn debug_hides_the_secret() {
        let signer = signer("K1", 7);
        let debug = format!("{signer:?}");
        let seed = signer.to_secret_text();
        let seed = seed.rsplit(':').next().unwrap();
        assert!(!debug.contains(seed), "{debug}");
        assert!(debug.contains("K1"), "{debug}");
    }

    #[test]
    fn public_key_text_round_trip_and_errors() {
        let signer = signer("K1", 7);
        let text = signer.public_key().to_string();
        assert!(text.starts_with("K1:"), "{text}");
        assert_eq!(text.len(), 3 + 43);
        let back: TicketPublicKey = format!(" {text} ").parse().unwrap();
        assert_eq!(back, signer.public_key());
        assert_eq!(back.verifying_key(), &signer.verifying_key());

        let parse = |text: &str| text.parse::<TicketPublicKey>().unwrap_err();
        assert_eq!(parse(&signer.to_secret_text()), KeyError::SecretNotPublic);
        assert!(matches!(parse("K1"), KeyError::Malformed { .. }));
        assert!(matches!(parse("K1=abc"), KeyError::Malformed { .. }));
        assert_eq!(
            parse(&text.replacen("K1", "", 1)),
            KeyError::InvalidKeyId(String::new())
        );
        assert_eq!(
            parse(&text.replacen("K1", "TOOLONGID", 1)),
            KeyError::InvalidKeyId("TOOLONGID".into())
        );
        assert_eq!(
            parse(&format!("{text}=")),
            KeyError::BadEncoding("public key")
        );
        assert_eq!(
            parse(&format!("K1:{}", URL_SAFE_NO_PAD.encode([1u8; 31]))),
            KeyError::WrongLength {
                what: "public key",
                got: 31
            }
        );
        // The identity point: small order, so refused.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            parse(&format!("K1:{}", URL_SAFE_NO_PAD.encode(identity))),
            KeyError::InvalidPublicKey(key_id("K1"))
        );
        assert!(
            parse(&format!("K1:{}", URL_SAFE_NO_PAD.encode(identity)))
                .to_string()
                .contains("K1")
        );
    }

    #[test]
    fn from_public_keys_refuses_duplicates_and_secrets() {
        let one = signer("K1", 1);
        let two = signer("K1", 2);
        assert_eq!(
            TicketVerifier::from_public_keys([
                one.public_key().to_string(),
                two.public_key().to_string()
            ])
            .unwrap_err(),
            KeyError::DuplicateKeyId(key_id("K1"))
        );
        assert_eq!(
            TicketVerifier::from_public_keys([one.to_secret_text()]).unwrap_err(),
            KeyError::SecretNotPublic
        );
        let empty = TicketVerifier::from_public_keys(Vec::<String>::new()).unwrap();
        assert_eq!(empty.key_ids().count(), 0);
    }

    #[test]
    fn key_ids() {
        for valid in ["A", "Z", "0", "K1", "ABCDEFGH", "20261101"] {
            assert_eq!(KeyId::new(valid).unwrap().as_str(), valid);
        }
        for invalid in ["", "k1", "ABCDEFGHI", "K-1", "K.1", "K 1", "É"] {
            assert!(KeyId::new(invalid).is_err(), "{invalid:?}");
        }
        let signer = TicketSigner::generate_with_derived_id();
        assert_eq!(
            signer.key_id(),
            &KeyId::derived_from(&signer.verifying_key())
        );
        assert_eq!(signer.key_id().as_str().len(), 8);
        assert!(KeyId::new(signer.key_id().as_str()).is_ok());
    }

    #[test]
    fn error_messages_are_clear() {
        assert_eq!(
            CodeError::UnknownKey(key_id("K9")).to_string(),
            "ticket code signed with unknown key K9"
        );
        assert_eq!(
            CodeError::Malformed("wrong length").to_string(),
            "not a valid ticket code: wrong length"
        );
        assert_eq!(
            CodeError::BadSignature.to_string(),
            "ticket code signature does not verify"
        );
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic(text in any::<String>()) {
            let verifier = signer("K1", 7).verifier();
            prop_assert!(verifier.verify(&text).is_err());
        }

        #[test]
        fn code_shaped_strings_never_panic(text in "[Tt]1\\.[A-Z0-9a-z.]{0,9}\\.[A-Z2-7a-z=]{150,158}") {
            let verifier = signer("K1", 7).verifier();
            prop_assert!(verifier.verify(&text).is_err());
        }

        #[test]
        fn arbitrary_ids_round_trip(ticket in any::<[u8; 16]>(), event in any::<[u8; 16]>(), id in "[A-Z0-9]{1,8}") {
            let signer = TicketSigner::from_seed(key_id(&id), &[9; 32]);
            let ticket = TicketId::from(Uuid::from_bytes(ticket));
            let event = EventId::from(Uuid::from_bytes(event));
            let code = signer.sign(ticket, event);
            prop_assert_eq!(code.len(), code_len(id.len()));
            let verified = signer.verifier().verify(&code).unwrap();
            prop_assert_eq!(verified, VerifiedCode { ticket_id: ticket, event_id: event, key_id: key_id(&id) });
        }
    }
}

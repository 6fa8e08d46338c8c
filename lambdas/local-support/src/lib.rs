//! What the local services share: secrets kept in 0600 files of the data directory, random
//! tokens, and the one shape of the pages they render themselves.

pub mod html;
pub mod secret_file;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// 256 random bits, base64url.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    URL_SAFE_NO_PAD.encode(bytes)
}

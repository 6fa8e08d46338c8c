//! The identity provider's token-signing key: RSA 2048, made on first start into
//! `<data-dir>/idp-signing.key` (PKCS#8 DER, mode 0600) and read on later starts. Tokens are
//! RS256 JWTs whose header names the key (`kid`), as Cognito's are, and the public half is
//! published as a JWKS.

use std::io;
use std::path::Path;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
    RSAKeyParameters, RSAKeyType,
};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use local_support::secret_file;

/// The key file's name in the data directory.
pub const KEY_FILE: &str = "idp-signing.key";

pub struct SigningKey {
    pair: RsaKeyPair,
    kid: String,
}

impl SigningKey {
    /// The key in `data_dir`, generated there on the first call.
    pub fn load_or_create(data_dir: &Path) -> io::Result<Self> {
        let path = data_dir.join(KEY_FILE);
        let pkcs8 = secret_file::load_or_create(&path, || {
            let pair = RsaKeyPair::generate(KeySize::Rsa2048)
                .map_err(|_| io::Error::other("cannot generate an RSA key"))?;
            let der = pair
                .as_der()
                .map_err(|_| io::Error::other("cannot encode the RSA key"))?;
            Ok(der.as_ref().to_vec())
        })?;
        Self::from_pkcs8(&pkcs8).map_err(|reason| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} is not an RSA key ({reason}); delete it to make a new one (signed-in \
                     users then sign in again)",
                    path.display()
                ),
            )
        })
    }

    /// A fresh key that lives in memory only (tests).
    pub fn generate() -> Self {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        Self::from_pair(pair)
    }

    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, String> {
        let pair = RsaKeyPair::from_pkcs8(pkcs8).map_err(|error| error.to_string())?;
        Ok(Self::from_pair(pair))
    }

    fn from_pair(pair: RsaKeyPair) -> Self {
        // Derived from the public key: a new key gets a new kid, so a verifier holding the old
        // JWKS reports an unknown key instead of a bad signature.
        let digest = Sha256::digest(pair.public_key().as_ref());
        let kid = URL_SAFE_NO_PAD.encode(&digest[..16]);
        Self { pair, kid }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// A compact RS256 JWT of `claims`, its header naming this key.
    pub fn sign(&self, claims: &impl Serialize) -> Result<String, SignError> {
        let header = json!({ "kid": self.kid, "alg": "RS256" });
        let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).map_err(|_| SignError)?);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).map_err(|_| SignError)?);
        let message = format!("{header}.{payload}");
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message.as_bytes(),
                &mut signature,
            )
            .map_err(|_| SignError)?;
        Ok(format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    /// The public key as a JWK (`kty` RSA, `alg` RS256, `use` sig, `kid`, `n`, `e`).
    pub fn jwk(&self) -> Jwk {
        let public = self.pair.public_key();
        Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_algorithm: Some(KeyAlgorithm::RS256),
                key_id: Some(self.kid.clone()),
                ..CommonParameters::default()
            },
            algorithm: AlgorithmParameters::RSA(RSAKeyParameters {
                key_type: RSAKeyType::RSA,
                n: URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
                e: URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
            }),
        }
    }

    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.jwk()],
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot sign the token")]
pub struct SignError;

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn the_key_is_made_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = SigningKey::load_or_create(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = SigningKey::load_or_create(dir.path()).unwrap();
        assert_eq!(first.kid(), again.kid());
        assert_eq!(first.jwk(), again.jwk());
        assert_ne!(first.kid(), SigningKey::generate().kid());
    }

    #[test]
    fn a_damaged_key_file_is_refused_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        std::fs::write(&path, b"certainly not a PKCS#8 RSA key").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let error = SigningKey::load_or_create(dir.path()).err().unwrap();
        assert!(error.to_string().contains(KEY_FILE), "{error}");
    }
}

//! Verifies a bearer JWT the way API Gateway's JWT authorizer does, so ticketd's gateway can
//! stand in for it: the signature against a JWKS key named by the token's `kid` (RS256 only),
//! `iss` equal to the configured issuer, `exp` in the future (with a little leeway for clock
//! skew), `nbf` if present in the past, and the audience: `aud` (ID tokens) or, when the token
//! has no `aud`, `client_id` (access tokens) among the configured audiences.
//!
//! Works for ticketd's own identity provider ([`super::Idp::verifier`]) and for a real Cognito
//! pool (issuer [`cognito_issuer`], the pool's JWKS from `<issuer>/.well-known/jwks.json`, the
//! app client id as audience).

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

/// Seconds of clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECONDS: i64 = 60;

/// The claims of a verified token, as the token carries them.
pub type Claims = Map<String, Value>;

/// The issuer of a Cognito user pool's tokens.
pub fn cognito_issuer(region: &str, user_pool_id: &str) -> String {
    format!("https://cognito-idp.{region}.amazonaws.com/{user_pool_id}")
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("not a well-formed JWT")]
    Malformed,
    #[error("the token is not signed with RS256")]
    WrongAlgorithm,
    #[error("the token's key is not in the JWKS")]
    UnknownKey,
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token is from another issuer")]
    WrongIssuer,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token is for another audience")]
    WrongAudience,
    #[error("the JWKS has no usable RSA key")]
    NoKeys,
}

#[derive(Clone)]
pub struct JwtVerifier {
    issuer: String,
    audiences: Vec<String>,
    keys: HashMap<String, DecodingKey>,
}

impl JwtVerifier {
    /// A verifier trusting the RSA keys of `jwks` (keys without a `kid` or of another type are
    /// skipped, as API Gateway only selects by `kid`).
    pub fn new(
        issuer: impl Into<String>,
        audiences: Vec<String>,
        jwks: &JwkSet,
    ) -> Result<Self, VerifyError> {
        let keys: HashMap<String, DecodingKey> = jwks
            .keys
            .iter()
            .filter(|jwk| matches!(jwk.algorithm, AlgorithmParameters::RSA(_)))
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                DecodingKey::from_jwk(jwk).ok().map(|key| (kid, key))
            })
            .collect();
        if keys.is_empty() {
            return Err(VerifyError::NoKeys);
        }
        Ok(Self {
            issuer: issuer.into(),
            audiences,
            keys,
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Verifies `token` now.
    pub fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs() as i64)
            .unwrap_or_default();
        self.verify_at(token, now)
    }

    /// Verifies `token` as at `now` (seconds since the epoch).
    pub fn verify_at(&self, token: &str, now: i64) -> Result<Claims, VerifyError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Malformed)?;
        if header.alg != Algorithm::RS256 {
            return Err(VerifyError::WrongAlgorithm);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.keys.get(kid))
            .ok_or(VerifyError::UnknownKey)?;
        // jsonwebtoken checks the signature only; the claim checks below are API Gateway's,
        // made against an injectable `now`.
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map_err(|error| match error.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => VerifyError::BadSignature,
                _ => VerifyError::Malformed,
            })?
            .claims;

        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err(VerifyError::WrongIssuer);
        }
        match claims.get("exp").and_then(Value::as_i64) {
            Some(exp) if exp + LEEWAY_SECONDS > now => {}
            _ => return Err(VerifyError::Expired),
        }
        if let Some(nbf) = claims.get("nbf") {
            match nbf.as_i64() {
                Some(nbf) if nbf - LEEWAY_SECONDS <= now => {}
                _ => return Err(VerifyError::NotYetValid),
            }
        }
        let audience_ok = match claims.get("aud") {
            Some(Value::String(aud)) => self.audiences.contains(aud),
            Some(Value::Array(auds)) => auds
                .iter()
                .filter_map(Value::as_str)
                .any(|aud| self.audiences.iter().any(|allowed| allowed == aud)),
            Some(_) => false,
            None => claims
                .get("client_id")
                .and_then(Value::as_str)
                .is_some_and(|client| self.audiences.iter().any(|allowed| allowed == client)),
        };
        if !audience_ok {
            return Err(VerifyError::WrongAudience);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::keys::SigningKey;

    const ISSUER: &str = "http://127.0.0.1:8080/auth";
    const NOW: i64 = 1_800_000_000;

    fn verifier(key: &SigningKey) -> JwtVerifier {
        JwtVerifier::new(ISSUER, vec!["client-a".into()], &key.jwks()).unwrap()
    }

    fn access(exp: i64) -> Value {
        json!({ "sub": "u", "iss": ISSUER, "client_id": "client-a", "token_use": "access",
                "exp": exp, "iat": exp - 3600 })
    }

    #[test]
    fn a_good_token_verifies_and_each_check_can_refuse() {
        let key = SigningKey::generate();
        let verifier = verifier(&key);
        let good = key.sign(&access(NOW + 10)).unwrap();
        assert_eq!(verifier.verify_at(&good, NOW).unwrap()["sub"], "u");

        let id = json!({ "sub": "u", "iss": ISSUER, "aud": "client-a", "exp": NOW + 10 });
        assert!(verifier.verify_at(&key.sign(&id).unwrap(), NOW).is_ok());
        let listed =
            json!({ "sub": "u", "iss": ISSUER, "aud": ["x", "client-a"], "exp": NOW + 10 });
        assert!(verifier.verify_at(&key.sign(&listed).unwrap(), NOW).is_ok());

        // `aud` takes precedence: a wrong `aud` is not rescued by a right `client_id`.
        let both = json!({ "sub": "u", "iss": ISSUER, "aud": "other", "client_id": "client-a",
                           "exp": NOW + 10 });
        assert_eq!(
            verifier.verify_at(&key.sign(&both).unwrap(), NOW),
            Err(VerifyError::WrongAudience)
        );
        let future = json!({ "sub": "u", "iss": ISSUER, "aud": "client-a", "exp": NOW + 9000,
                             "nbf": NOW + 600 });
        assert_eq!(
            verifier.verify_at(&key.sign(&future).unwrap(), NOW),
            Err(VerifyError::NotYetValid)
        );
        let no_exp = json!({ "sub": "u", "iss": ISSUER, "aud": "client-a" });
        assert_eq!(
            verifier.verify_at(&key.sign(&no_exp).unwrap(), NOW),
            Err(VerifyError::Expired)
        );
    }

    #[test]
    fn expiry_has_a_small_leeway() {
        let key = SigningKey::generate();
        let token = key.sign(&access(NOW)).unwrap();
        assert!(verifier(&key).verify_at(&token, NOW + 30).is_ok());
        assert_eq!(
            verifier(&key).verify_at(&token, NOW + LEEWAY_SECONDS),
            Err(VerifyError::Expired)
        );
    }

    #[test]
    fn tampered_and_foreign_tokens_are_refused() {
        let key = SigningKey::generate();
        let verifier = verifier(&key);
        let token = key.sign(&access(NOW + 10)).unwrap();
        let (head, rest) = token.split_once('.').unwrap();
        let (_, signature) = rest.split_once('.').unwrap();
        let forged_claims = URL_SAFE.encode(
            serde_json::to_vec(
                &json!({ "sub": "admin", "iss": ISSUER, "client_id": "client-a",
                                        "exp": NOW + 10 }),
            )
            .unwrap(),
        );
        assert_eq!(
            verifier.verify_at(&format!("{head}.{forged_claims}.{signature}"), NOW),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verifier.verify_at("not.a.jwt", NOW),
            Err(VerifyError::Malformed)
        );
        let unsigned = format!(
            "{}.{}.",
            URL_SAFE.encode(br#"{"alg":"none","kid":"x"}"#),
            URL_SAFE.encode(br#"{"sub":"u"}"#)
        );
        assert!(verifier.verify_at(&unsigned, NOW).is_err());
    }

    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as URL_SAFE;

    #[test]
    fn a_jwks_without_rsa_keys_is_refused() {
        assert_eq!(
            JwtVerifier::new(ISSUER, vec![], &JwkSet { keys: vec![] }).err(),
            Some(VerifyError::NoKeys)
        );
    }
}

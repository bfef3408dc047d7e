//! Browser mode: the provider's metadata (discovery, cached for an hour) and signing keys
//! (JWKS, refetched once for an unknown `kid`), ID-token verification and UserInfo.

use super::browser_mode::BrowserClient;
use super::platform::{Area, Platform};
use crate::core::discovery::{
    authorization_server_metadata_url, cache_entry, cached_document, discovery_url,
    revocation_from_as_metadata, validate_metadata, Provider, ProviderMetadata,
};
use crate::core::error::{Error, ErrorKind, TokenProblem};
use crate::core::id_token::{validate_claims, Expectations, IdTokenClaims};
use crate::core::json::decode as from_json;
use crate::core::jwt::{
    check_header, check_signature_shape, key_step, split, JoseHeader, JwkSet, KeyStep,
};
use crate::core::secret::{AccessToken, IdToken};
use crate::core::user::userinfo_outcome;
use std::cell::RefCell;
use std::rc::Rc;

/// The provider's checked metadata and its signing keys, as this client last read them.
/// Nothing else reads or writes these.
#[derive(Default)]
pub(super) struct ProviderCache {
    provider: RefCell<Option<Rc<Provider>>>,
    jwks: RefCell<Option<Rc<JwkSet>>>,
}

fn utf8(b: &[u8]) -> Result<String, Error> {
    String::from_utf8(b.to_vec()).map_err(|_| Error::token(TokenProblem::Malformed))
}

impl<P: Platform> BrowserClient<P> {
    /// The provider's checked metadata: from memory, from the session cache, or fetched.
    pub(super) async fn provider(&self) -> Result<Rc<Provider>, Error> {
        if let Some(p) = self.inner.cache.provider.borrow().clone() {
            return Ok(p);
        }
        let key = self.key("discovery");
        let cached = self
            .p()
            .get(Area::Session, &key)
            .and_then(|entry| cached_document(&entry, self.p().now()).map(str::to_owned));
        let provider = match cached.and_then(|json| self.check_metadata(&json).ok()) {
            Some(p) => p,
            None => {
                let reply = self
                    .p()
                    .get_json(&discovery_url(&self.config().issuer), None)
                    .await?;
                if reply.status != 200 {
                    return Err(ErrorKind::HttpError {
                        status: reply.status,
                    }
                    .into());
                }
                let p = self.check_metadata(&reply.body)?;
                let _ = self.p().set(
                    Area::Session,
                    &key,
                    &cache_entry(self.p().now(), &reply.body),
                );
                p
            }
        };
        let p = Rc::new(provider);
        *self.inner.cache.provider.borrow_mut() = Some(p.clone());
        Ok(p)
    }

    fn check_metadata(&self, json: &str) -> Result<Provider, Error> {
        let m: ProviderMetadata = from_json(json, "discovery document")?;
        validate_metadata(m, self.config())
    }

    /// Verifies an ID token issued together with `access_token`: the signature (key chosen by
    /// `kid`; the JWKS is fetched once more when no key matches: the provider may have rotated
    /// its keys), the claims and `at_hash`. Returns the claims and the payload JSON.
    pub(super) async fn verify_issued_with(
        &self,
        provider: &Provider,
        id_token: &IdToken,
        access_token: &AccessToken,
        nonce: Option<&str>,
        max_age: Option<u64>,
        previous_sub: Option<&str>,
    ) -> Result<(IdTokenClaims, String), Error> {
        let digest = self.p().sha256(access_token.secret().as_bytes()).await?;
        let malformed = |_| Error::token(TokenProblem::Malformed);
        let jws = split(id_token.secret())?;
        let header: JoseHeader =
            from_json(&utf8(&jws.header)?, "ID token header").map_err(malformed)?;
        let alg = check_header(&header, &provider.allowed_algs)?;
        let kid = header.kid.as_deref();
        // The keys at hand, then at most one fresh fetch (`core::jwt::key_step` decides).
        let mut set = self.inner.cache.jwks.borrow().clone();
        let mut fetched_fresh = false;
        let key = loop {
            let keys = match set.take() {
                Some(keys) => keys,
                None => {
                    fetched_fresh = true;
                    let reply = self.p().get_json(provider.jwks_uri(), None).await?;
                    if reply.status != 200 {
                        return Err(ErrorKind::HttpError {
                            status: reply.status,
                        }
                        .into());
                    }
                    let keys = Rc::new(from_json::<JwkSet>(&reply.body, "JWKS")?);
                    *self.inner.cache.jwks.borrow_mut() = Some(keys.clone());
                    keys
                }
            };
            match key_step(&keys, kid, alg, fetched_fresh) {
                KeyStep::Use(k) => break k.clone(),
                KeyStep::FetchFresh => {}
                KeyStep::Refuse(e) => return Err(e),
            }
        };
        let key = &key;
        check_signature_shape(&jws.signature, alg, key)?;
        if !self
            .p()
            .verify(alg, key, jws.signing_input.as_bytes(), &jws.signature)
            .await?
        {
            return Err(Error::token(TokenProblem::BadSignature));
        }
        let payload = utf8(&jws.payload)?;
        let claims: IdTokenClaims = from_json(&payload, "ID token claims").map_err(malformed)?;
        let want = Expectations {
            nonce,
            max_age,
            access_token_sha256: Some(&digest),
            previous_sub,
            now: self.p().now(),
        };
        validate_claims(&claims, self.config(), &want)?;
        Ok((claims, payload))
    }

    /// Reads UserInfo with the new access token (`core::user::userinfo_wanted` decided to) and
    /// checks it (`core::user::userinfo_outcome`).
    pub(super) async fn userinfo(
        &self,
        endpoint: &str,
        token: &AccessToken,
        sub: &str,
    ) -> Result<String, Error> {
        let reply = self.p().get_json(endpoint, Some(token.secret())).await.ok();
        userinfo_outcome(reply.as_ref().map(|r| (r.status, r.body.as_str())), sub)
    }

    /// The revocation endpoint: discovery's, else the one the provider's RFC 8414 metadata
    /// names (`core::discovery::authorization_server_metadata_url`), else none.
    pub(super) async fn revocation_endpoint(&self, provider: &Provider) -> Option<String> {
        if let Some(e) = &provider.metadata.revocation_endpoint {
            return Some(e.clone());
        }
        let url = authorization_server_metadata_url(&self.config().issuer)?;
        let reply = self.p().get_json(&url, None).await.ok()?;
        if reply.status != 200 {
            return None;
        }
        revocation_from_as_metadata(&reply.body, &self.config().issuer)
            .ok()
            .flatten()
    }
}

//! Browser mode: the provider's metadata (discovery, cached for an hour) and signing keys
//! (JWKS, refetched once for an unknown `kid`), ID-token verification and UserInfo.

use super::browser_mode::BrowserClient;
use crate::browser::crypto::{sha256, verify};
use crate::browser::http::{get_json, JsonReply};
use crate::browser::storage::Area;
use crate::browser::{now, Call};
use crate::core::discovery::{discovery_url, validate_metadata, Provider, ProviderMetadata};
use crate::core::error::{Error, ErrorKind, TokenProblem};
use crate::core::id_token::{check_userinfo_sub, validate_claims, Expectations, IdTokenClaims};
use crate::core::json::{decode as from_json, Field, Fields, FromJson};
use crate::core::jwt::{
    check_header, check_signature_shape, select_key, split, JoseHeader, JwkSet,
};
use crate::core::secret::{AccessToken, IdToken};
use crate::core::text::{cat, parse_uint, split_once, uint};
use std::rc::Rc;

/// How long a cached discovery document is used before it is fetched again, in seconds.
const DISCOVERY_TTL: u64 = 3600;

struct ProfileHints {
    sub: Option<String>,
    email: Option<String>,
    name: Option<String>,
}

impl FromJson for ProfileHints {
    fn read(f: &Fields<'_>) -> Field<Self> {
        f.done(Self {
            sub: f.str("sub"),
            email: f.str("email"),
            name: f.str("name"),
        })
    }
}

fn utf8(b: &[u8]) -> Result<String, Error> {
    String::from_utf8(b.to_vec()).map_err(|_| Error::token(TokenProblem::Malformed))
}

impl BrowserClient {
    /// The provider's checked metadata: from memory, from the session cache, or fetched.
    pub(super) async fn provider(&self) -> Result<Rc<Provider>, Error> {
        if let Some(p) = self.inner.provider.borrow().clone() {
            return Ok(p);
        }
        let key = self.key("discovery");
        let cached = Area::Session.get(&key).and_then(|c| {
            let (at, json) = split_once(&c, b'\n')?;
            let at = parse_uint(at)?;
            (now().saturating_sub(at) < DISCOVERY_TTL).then(|| json.to_owned())
        });
        let provider = match cached.and_then(|json| self.check_metadata(&json).ok()) {
            Some(p) => p,
            None => {
                let reply = get_json(&discovery_url(&self.config().issuer), None).await?;
                if reply.status != 200 {
                    return Err(ErrorKind::HttpError {
                        status: reply.status,
                    }
                    .into());
                }
                let p = self.check_metadata(&reply.body)?;
                let _ = Area::Session.set(&key, &cat(&[&uint(now()), "\n", &reply.body]));
                p
            }
        };
        let p = Rc::new(provider);
        *self.inner.provider.borrow_mut() = Some(p.clone());
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
        let digest = sha256(access_token.secret().as_bytes()).await?;
        let malformed = |_| Error::token(TokenProblem::Malformed);
        let jws = split(id_token.secret())?;
        let header: JoseHeader =
            from_json(&utf8(&jws.header)?, "ID token header").map_err(malformed)?;
        let alg = check_header(&header, &provider.allowed_algs)?;
        let kid = header.kid.as_deref();
        let mut cached = self.inner.jwks.borrow().clone();
        let mut refetched = false;
        let jwks = loop {
            let set = match cached.take() {
                Some(set) => set,
                None => {
                    let reply = get_json(provider.jwks_uri(), None).await?;
                    if reply.status != 200 {
                        return Err(ErrorKind::HttpError {
                            status: reply.status,
                        }
                        .into());
                    }
                    let set = Rc::new(from_json::<JwkSet>(&reply.body, "JWKS")?);
                    *self.inner.jwks.borrow_mut() = Some(set.clone());
                    set
                }
            };
            match select_key(&set, kid, alg) {
                Err(e)
                    if !refetched
                        && matches!(
                            e.kind(),
                            ErrorKind::TokenInvalid(TokenProblem::UnknownKey)
                        ) =>
                {
                    refetched = true
                }
                _ => break set,
            }
        };
        let key = select_key(&jwks, kid, alg)?;
        check_signature_shape(&jws.signature, alg, key)?;
        if !verify(alg, key, jws.signing_input.as_bytes(), &jws.signature).await? {
            return Err(Error::token(TokenProblem::BadSignature));
        }
        let payload = utf8(&jws.payload)?;
        let claims: IdTokenClaims = from_json(&payload, "ID token claims").map_err(malformed)?;
        let want = Expectations {
            nonce,
            max_age,
            access_token_sha256: Some(&digest),
            previous_sub,
            now: now(),
        };
        validate_claims(&claims, self.config(), &want)?;
        Ok((claims, payload))
    }

    /// The UserInfo request, when the ID token lacks profile claims the app asked for.
    pub(super) fn userinfo_request(
        &self,
        provider: &Provider,
        token: &AccessToken,
        payload: &str,
    ) -> Result<Option<Call<JsonReply>>, Error> {
        let Some(endpoint) = provider.metadata.userinfo_endpoint.as_deref() else {
            return Ok(None);
        };
        let hints: ProfileHints = from_json(payload, "ID token claims")?;
        let wants_profile = self
            .config()
            .scopes
            .iter()
            .any(|s| s == "profile" || s == "email");
        if hints.email.is_some() || hints.name.is_some() || !wants_profile {
            return Ok(None);
        }
        Ok(Some(get_json(endpoint, Some(token.secret()))))
    }
}

/// The UserInfo response as stored. A `sub` mismatch is fatal (Core 5.3.2); an unreachable
/// endpoint is not (the ID token already identifies the user).
pub(super) fn userinfo_result(
    reply: Result<JsonReply, Error>,
    sub: &str,
) -> Result<Option<String>, Error> {
    let Ok(reply) = reply else {
        return Ok(None);
    };
    if reply.status != 200 {
        return Ok(None);
    }
    let info: ProfileHints = from_json(&reply.body, "UserInfo response")?;
    check_userinfo_sub(sub, info.sub.as_deref())?;
    Ok(Some(reply.body))
}

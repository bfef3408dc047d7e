//! The provider side, with the `openidconnect` crate: discovery, the authorization URL (PKCE,
//! state, nonce), the code exchange with ID-token validation, userinfo, refresh, revocation
//! (RFC 7009) and RP-initiated logout.

use crate::config::Config;
use crate::store::{PendingLogin, Session};
use crate::web::{now_ms, now_secs};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClaimName, CoreClaimType,
    CoreClientAuthMethod, CoreErrorResponseType, CoreGenderClaim, CoreGrantType, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm,
    CoreResponseMode, CoreResponseType, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreSubjectIdentifierType, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    reqwest, AccessToken, AccessTokenHash, AdditionalClaims, AdditionalProviderMetadata,
    AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken, EmptyExtraTokenFields,
    EndSessionUrl, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdToken, IdTokenFields,
    IssuerUrl, LoginHint, LogoutProviderMetadata, LogoutRequest, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadata, RedirectUrl,
    RefreshToken, RequestTokenError, RevocationUrl, Scope, StandardErrorResponse,
    StandardTokenResponse, TokenResponse as _, UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// Every claim the provider sends beyond the standard ones (roles, permissions, tenant, …).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct ExtraClaims(HashMap<String, Value>);
impl AdditionalClaims for ExtraClaims {}

/// Discovery fields the core metadata type does not model.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct MoreMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revocation_endpoint: Option<RevocationUrl>,
    /// RFC 9207: when true, an authorization response without `iss` is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    authorization_response_iss_parameter_supported: Option<bool>,
}
impl AdditionalProviderMetadata for MoreMetadata {}

type Metadata = ProviderMetadata<
    LogoutProviderMetadata<MoreMetadata>,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

type IdTokenFieldsX = IdTokenFields<
    ExtraClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type TokenResponseX = StandardTokenResponse<IdTokenFieldsX, CoreTokenType>;
type IdTokenX = IdToken<
    ExtraClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// The client as discovery leaves it (authorization endpoint set; token and userinfo endpoints
/// "maybe"), with or without the revocation endpoint.
type OidcClient<HasRevocationUrl = EndpointNotSet> = Client<
    ExtraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenResponseX,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    HasRevocationUrl,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// ID-token signature algorithms we accept: asymmetric only, never `none` or HMAC (the client
/// secret must not be a signing key), intersected with what discovery announces.
const ACCEPTED_ALGS: &[CoreJwsSigningAlgorithm] = &[
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// What went wrong upstream, already sorted the way the wire contract needs it.
#[derive(Debug, Clone)]
pub enum UpstreamError {
    /// The grant is over (`invalid_grant`, a refreshed ID token for someone else): end the session.
    Terminal { code: &'static str, message: String },
    /// Network, timeouts, 5xx, unreadable answers: keep the session, try again later (503).
    Transient { code: &'static str, message: String },
    /// The response was refused (bad state, bad ID token, provider said no): 400 on the callback.
    Rejected { code: &'static str, message: String },
}

impl UpstreamError {
    fn transient(message: impl Into<String>) -> Self {
        UpstreamError::Transient {
            code: "UPSTREAM_UNAVAILABLE",
            message: message.into(),
        }
    }
    fn rejected(code: &'static str, message: impl Into<String>) -> Self {
        UpstreamError::Rejected {
            code,
            message: message.into(),
        }
    }
}

/// Why a JWS was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwsError {
    Malformed,
    /// `none`, HMAC, or an algorithm the provider does not announce.
    Algorithm,
    /// No key of the provider's has that `kid` (perhaps rotated: rediscover once).
    UnknownKey,
    Signature,
}

/// One discovered provider.
pub struct Provider {
    client: OidcClient,
    revoker: Option<OidcClient<EndpointSet>>,
    end_session: Option<EndSessionUrl>,
    iss_param_required: bool,
    algs: Vec<CoreJwsSigningAlgorithm>,
    jwks: Vec<CoreJsonWebKey>,
    issuer: String,
    scopes: Vec<String>,
    client_id: String,
    client_secret: String,
    post_logout_redirect_uri: String,
    session_ttl: Duration,
    http: reqwest::Client,
}

/// The provider, discovered lazily (the backend starts even when the provider is down) and
/// re-discovered when an ID token's key is unknown (key rotation).
pub struct Upstream {
    config: Config,
    http: reqwest::Client,
    cached: Mutex<Option<Arc<Provider>>>,
}

impl Upstream {
    pub fn new(config: &Config) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            // Following redirects from the provider's endpoints opens the door to SSRF.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.upstream_timeout)
            .connect_timeout(config.upstream_timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("oidc-session-bff/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Upstream {
            config: config.clone(),
            http,
            cached: Mutex::new(None),
        })
    }

    /// The discovered provider (discovery once, then cached; concurrent callers wait for one
    /// discovery).
    pub async fn get(&self) -> Result<Arc<Provider>, UpstreamError> {
        let mut cached = self.cached.lock().await;
        if let Some(p) = cached.as_ref() {
            return Ok(p.clone());
        }
        let p = Arc::new(self.discover().await?);
        *cached = Some(p.clone());
        Ok(p)
    }

    /// Forgets `stale` (when it is still the cached one) and discovers again.
    pub async fn rediscover(&self, stale: &Arc<Provider>) -> Result<Arc<Provider>, UpstreamError> {
        {
            let mut cached = self.cached.lock().await;
            if cached.as_ref().is_some_and(|c| Arc::ptr_eq(c, stale)) {
                *cached = None;
            }
        }
        self.get().await
    }

    async fn discover(&self) -> Result<Provider, UpstreamError> {
        let c = &self.config;
        let issuer = IssuerUrl::new(c.issuer.clone())
            .map_err(|e| UpstreamError::transient(format!("bad issuer URL: {e}")))?;
        let metadata = Metadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| UpstreamError::transient(format!("discovery failed: {}", chain(&e))))?;

        let announced = metadata.id_token_signing_alg_values_supported().clone();
        let algs: Vec<_> = ACCEPTED_ALGS
            .iter()
            .filter(|a| announced.contains(a))
            .cloned()
            .collect();
        if algs.is_empty() {
            return Err(UpstreamError::transient(
                "the provider announces no asymmetric ID-token signing algorithm",
            ));
        }
        let more = metadata.additional_metadata();
        let end_session = more.end_session_endpoint.clone();
        let revocation = more.additional_metadata.revocation_endpoint.clone();
        let iss_param_required = more
            .additional_metadata
            .authorization_response_iss_parameter_supported
            .unwrap_or(false);
        let redirect = RedirectUrl::new(c.redirect_uri())
            .map_err(|e| UpstreamError::transient(format!("bad redirect URI: {e}")))?;

        // The provider's signing keys, also for back-channel logout tokens.
        let jwks = metadata.jwks().keys().clone();
        let client: OidcClient = Client::from_provider_metadata(
            metadata,
            ClientId::new(c.client_id.clone()),
            Some(ClientSecret::new(c.client_secret.clone())),
        )
        .set_redirect_uri(redirect);
        let revoker = revocation.map(|url| client.clone().set_revocation_url(url));
        Ok(Provider {
            client,
            revoker,
            end_session,
            iss_param_required,
            algs,
            jwks,
            issuer: c.issuer.clone(),
            scopes: c.scopes.clone(),
            client_id: c.client_id.clone(),
            client_secret: c.client_secret.clone(),
            post_logout_redirect_uri: c.post_logout_redirect_uri.clone(),
            session_ttl: c.session_ttl,
            http: self.http.clone(),
        })
    }
}

/// What `GET /login` needs to redirect and to remember.
pub struct LoginStart {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// Optional authorization-request parameters a caller may pass through `GET /login`.
#[derive(Default)]
pub struct LoginOptions {
    pub prompt: Option<CoreAuthPrompt>,
    pub login_hint: Option<String>,
}

impl Provider {
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Verifies a JWS compact serialization (`header.payload.signature`) with the provider's
    /// keys and an accepted asymmetric algorithm (the same list as for ID tokens); returns the
    /// payload's JSON object. Nothing else is checked here.
    pub fn verify_jws(&self, jws: &str) -> Result<Map<String, Value>, JwsError> {
        use base64::Engine as _;
        use openidconnect::JsonWebKey as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut parts = jws.split('.');
        let (Some(h), Some(p), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwsError::Malformed);
        };
        let header: Value = b64
            .decode(h)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(JwsError::Malformed)?;
        let alg: CoreJwsSigningAlgorithm = header
            .get("alg")
            .cloned()
            .and_then(|a| serde_json::from_value(a).ok())
            .ok_or(JwsError::Malformed)?;
        if !self.algs.contains(&alg) {
            return Err(JwsError::Algorithm);
        }
        let kid = header.get("kid").and_then(Value::as_str);
        let signature = b64.decode(sig).map_err(|_| JwsError::Malformed)?;
        let message = &jws.as_bytes()[..h.len() + 1 + p.len()];
        let mut candidates = self
            .jwks
            .iter()
            .filter(|k| kid.is_none_or(|kid| k.key_id().is_some_and(|id| id.as_str() == kid)))
            .peekable();
        if candidates.peek().is_none() {
            return Err(JwsError::UnknownKey);
        }
        if !candidates.any(|k| k.verify_signature(&alg, message, &signature).is_ok()) {
            return Err(JwsError::Signature);
        }
        match b64
            .decode(p)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
        {
            Some(Value::Object(claims)) => Ok(claims),
            _ => Err(JwsError::Malformed),
        }
    }

    /// The authorization URL: code flow, PKCE S256, fresh `state` and `nonce`.
    pub fn login(&self, options: LoginOptions) -> LoginStart {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = self.client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in self.scopes.iter().filter(|s| *s != "openid") {
            req = req.add_scope(Scope::new(scope.clone()));
        }
        if let Some(prompt) = options.prompt {
            req = req.add_prompt(prompt);
        }
        if let Some(hint) = options.login_hint {
            req = req.set_login_hint(LoginHint::new(hint));
        }
        let (url, state, nonce) = req.set_pkce_challenge(challenge).url();
        LoginStart {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        }
    }

    /// RFC 9207: the authorization response's `iss` must be ours; a missing one is refused when
    /// the provider announces that it always sends it.
    pub fn check_response_iss(&self, iss: Option<&str>) -> Result<(), UpstreamError> {
        match iss {
            Some(iss) if iss == self.issuer => Ok(()),
            Some(other) => Err(UpstreamError::rejected(
                "ISS_MISMATCH",
                format!("the authorization response comes from `{other}`, not from our issuer"),
            )),
            None if self.iss_param_required => Err(UpstreamError::rejected(
                "ISS_MISSING",
                "the authorization response carries no `iss` although the provider announces it",
            )),
            None => Ok(()),
        }
    }

    /// Code exchange, ID-token validation (signature by an allow-listed algorithm, iss, aud, azp,
    /// exp, iat, nonce, at_hash), then userinfo: a new session.
    pub async fn finish_login(
        &self,
        code: String,
        login: &PendingLogin,
    ) -> Result<Session, UpstreamError> {
        let response = self
            .client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| UpstreamError::transient(format!("no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(login.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| classify_token_error(e, "the code exchange"))?;
        let id_token = response.id_token().ok_or_else(|| {
            UpstreamError::rejected("ID_TOKEN_INVALID", "the token response carries no ID token")
        })?;
        let nonce = Nonce::new(login.nonce.clone());
        let mut claims = self.verify_id_token(id_token, &nonce, response.access_token())?;
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        self.merge_userinfo(&mut claims, response.access_token(), &sub)
            .await;
        let now = now_secs();
        let sid = claims.get("sid").and_then(Value::as_str).map(str::to_owned);
        Ok(Session {
            sub,
            sid,
            claims,
            id_token: id_token.to_string(),
            access_token: response.access_token().secret().clone(),
            access_expires_at: response.expires_in().map(|d| now + d.as_secs()),
            refresh_token: response.refresh_token().map(|t| t.secret().clone()),
            refreshed_at_ms: now_ms(),
            expires_at: now + self.session_ttl.as_secs(),
            version: 0,
        })
    }

    /// One upstream refresh (rotation): the session with its new tokens.
    pub async fn refresh(&self, session: &Session) -> Result<Session, UpstreamError> {
        let Some(rt) = session.refresh_token.clone() else {
            return Err(UpstreamError::Terminal {
                code: "SESSION_REVOKED",
                message: "the provider issued no refresh token: the session cannot be extended"
                    .into(),
            });
        };
        let rt = RefreshToken::new(rt);
        let response = self
            .client
            .exchange_refresh_token(&rt)
            .map_err(|e| UpstreamError::transient(format!("no token endpoint: {e}")))?
            .request_async(&self.http)
            .await
            .map_err(|e| classify_token_error(e, "the refresh"))?;
        let mut next = session.clone();
        if let Some(id_token) = response.id_token() {
            // OIDC Core 12.2: same iss and sub as the original; no nonce expected.
            let claims = self
                .verify_id_token(
                    id_token,
                    |_: Option<&Nonce>| Ok(()),
                    response.access_token(),
                )
                .map_err(|e| match e {
                    UpstreamError::Rejected { message, .. } => UpstreamError::Terminal {
                        code: "SESSION_REVOKED",
                        message: format!("the refreshed ID token is not acceptable: {message}"),
                    },
                    other => other,
                })?;
            if claims.get("sub").and_then(Value::as_str) != Some(session.sub.as_str()) {
                return Err(UpstreamError::Terminal {
                    code: "SESSION_REVOKED",
                    message: "the refreshed ID token is for another subject".into(),
                });
            }
            for (k, v) in claims {
                next.claims.insert(k, v);
            }
            next.id_token = id_token.to_string();
        }
        let now = now_secs();
        next.access_token = response.access_token().secret().clone();
        next.access_expires_at = response.expires_in().map(|d| now + d.as_secs());
        // Rotation: a new refresh token replaces the old one; without one the old one stays valid.
        if let Some(new_rt) = response.refresh_token() {
            next.refresh_token = Some(new_rt.secret().clone());
        }
        next.refreshed_at_ms = now_ms();
        Ok(next)
    }

    /// RFC 7009: revokes the refresh token (the grant), else the access token. `Ok(false)` when
    /// the provider has no revocation endpoint.
    pub async fn revoke(&self, session: &Session) -> Result<bool, UpstreamError> {
        let Some(revoker) = &self.revoker else {
            return Ok(false);
        };
        let token: CoreRevocableToken = match &session.refresh_token {
            Some(rt) => RefreshToken::new(rt.clone()).into(),
            None => AccessToken::new(session.access_token.clone()).into(),
        };
        let url = revoker.revocation_url().url();
        if url.scheme() != "https" {
            // RFC 7009 says https, and the oauth2 crate enforces it; a loopback development
            // provider is plain http, so only there we make the same request ourselves.
            if !is_loopback(url) {
                return Err(UpstreamError::transient(
                    "the revocation endpoint is not https: not revoking",
                ));
            }
            return self.revoke_over_loopback_http(url, &token).await;
        }
        revoker
            .revoke_token(token)
            .map_err(|e| UpstreamError::transient(format!("cannot revoke: {e}")))?
            .request_async(&self.http)
            .await
            .map_err(|e| UpstreamError::transient(format!("revocation failed: {}", chain(&e))))?;
        Ok(true)
    }

    /// The RFC 7009 request the oauth2 crate would send (client_secret_basic with form-encoded
    /// credentials, RFC 6749 2.3.1), for an http provider on the loopback interface only.
    async fn revoke_over_loopback_http(
        &self,
        url: &openidconnect::url::Url,
        token: &CoreRevocableToken,
    ) -> Result<bool, UpstreamError> {
        use openidconnect::RevocableToken;
        let enc = |s: &str| {
            openidconnect::url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
        };
        let mut form = vec![("token", token.secret().to_owned())];
        if let Some(hint) = token.type_hint() {
            form.push(("token_type_hint", hint.to_owned()));
        }
        let response = self
            .http
            .post(url.clone())
            .basic_auth(enc(&self.client_id), Some(enc(&self.client_secret)))
            .header("Accept", "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| UpstreamError::transient(format!("revocation failed: {}", chain(&e))))?;
        if response.status().is_success() {
            Ok(true)
        } else {
            Err(UpstreamError::transient(format!(
                "revocation answered HTTP {}",
                response.status()
            )))
        }
    }

    /// RP-initiated logout URL: `id_token_hint`, `post_logout_redirect_uri`, `client_id`, `state`.
    pub fn end_session_url(&self, id_token: Option<&str>) -> Option<String> {
        let endpoint = self.end_session.clone()?;
        let mut req = LogoutRequest::from(endpoint)
            .set_client_id(ClientId::new(self.client_id.clone()))
            .set_state(CsrfToken::new_random());
        if let Ok(uri) = PostLogoutRedirectUrl::new(self.post_logout_redirect_uri.clone()) {
            req = req.set_post_logout_redirect_uri(uri);
        }
        if let Some(hint) = id_token.and_then(|t| t.parse::<IdTokenX>().ok()) {
            req = req.set_id_token_hint(&hint);
        }
        Some(req.http_get_url().to_string())
    }

    /// Validates an ID token and returns its claims as JSON (without `nonce`, `at_hash`, `c_hash`).
    fn verify_id_token<N: openidconnect::NonceVerifier>(
        &self,
        id_token: &IdTokenX,
        nonce: N,
        access_token: &AccessToken,
    ) -> Result<Map<String, Value>, UpstreamError> {
        let verifier = self
            .client
            .id_token_verifier()
            .set_allowed_algs(self.algs.clone());
        let claims = id_token.claims(&verifier, nonce).map_err(|e| {
            let code = match e {
                openidconnect::ClaimsVerificationError::SignatureVerification(_) => {
                    "ID_TOKEN_SIGNATURE"
                }
                _ => "ID_TOKEN_INVALID",
            };
            UpstreamError::rejected(code, format!("ID token refused: {}", chain(&e)))
        })?;
        if let Some(expected) = claims.access_token_hash() {
            let bad = |e: &dyn std::error::Error| {
                UpstreamError::rejected("ID_TOKEN_INVALID", format!("at_hash: {}", chain(e)))
            };
            let alg = id_token.signing_alg().map_err(|e| bad(&e))?;
            let key = id_token.signing_key(&verifier).map_err(|e| bad(&e))?;
            let actual =
                AccessTokenHash::from_token(access_token, alg, key).map_err(|e| bad(&e))?;
            if actual != *expected {
                return Err(UpstreamError::rejected(
                    "ID_TOKEN_INVALID",
                    "at_hash does not match the access token",
                ));
            }
        }
        let mut json = match serde_json::to_value(claims) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        for k in ["nonce", "at_hash", "c_hash"] {
            json.remove(k);
        }
        Ok(json)
    }

    /// Adds the userinfo claims (profile, email, … that a conforming provider keeps out of the ID
    /// token). A userinfo failure is logged, not fatal: the ID token already identifies the user.
    async fn merge_userinfo(&self, claims: &mut Map<String, Value>, at: &AccessToken, sub: &str) {
        if self.client.user_info_url().is_none() {
            return;
        }
        let request = match self.client.user_info(
            at.clone(),
            Some(openidconnect::SubjectIdentifier::new(sub.to_owned())),
        ) {
            Ok(r) => r,
            Err(_) => return,
        };
        let result: Result<UserInfoClaims<ExtraClaims, CoreGenderClaim>, _> =
            request.request_async(&self.http).await;
        match result {
            Ok(info) => {
                if let Ok(Value::Object(map)) = serde_json::to_value(&info) {
                    for (k, v) in map {
                        claims.insert(k, v);
                    }
                }
            }
            Err(e) => tracing::warn!(
                detail = %crate::web::loggable(&chain(&e)),
                "userinfo failed (continuing with the ID token's claims)"
            ),
        }
    }
}

/// Sorts a token-endpoint failure: `invalid_grant` ends the grant; a network failure, a timeout,
/// a 5xx page or any other answer is transient.
fn classify_token_error<RE: std::error::Error + 'static>(
    e: RequestTokenError<RE, StandardErrorResponse<CoreErrorResponseType>>,
    what: &str,
) -> UpstreamError {
    match &e {
        RequestTokenError::ServerResponse(r)
            if *r.error() == CoreErrorResponseType::InvalidGrant =>
        {
            UpstreamError::Terminal {
                code: "INVALID_GRANT",
                message: format!(
                    "{what} was refused: invalid_grant{}",
                    r.error_description()
                        .map(|d| format!(" ({d})"))
                        .unwrap_or_default()
                ),
            }
        }
        RequestTokenError::ServerResponse(r) => UpstreamError::Transient {
            code: "UPSTREAM_ERROR",
            message: format!("{what} was refused: {}", r.error().as_ref()),
        },
        RequestTokenError::Request(_) => {
            UpstreamError::transient(format!("{what} failed: {}", chain(&e)))
        }
        _ => UpstreamError::Transient {
            code: "UPSTREAM_ERROR",
            message: format!("{what} failed: {}", chain(&e)),
        },
    }
}

/// True for `http://127.0.0.1…`, `http://[::1]…` and `http://localhost…`.
pub fn is_loopback(url: &openidconnect::url::Url) -> bool {
    use openidconnect::url::Host;
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// An error and its sources, on one line.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

//! OpenID Provider metadata (OpenID Connect Discovery 1.0), checked per section 4.3.

use crate::core::config::BrowserConfig;
use crate::core::error::{Error, ErrorKind, IssuerSource};
use crate::core::json::{Field, Fields, FromJson};
use crate::core::jwt::Alg;
use crate::core::text::{cat, parse_uint, split_once, uint};
use crate::core::url::HttpUrl;

/// The discovery document, as the provider publishes it. Unknown members are ignored.
#[derive(Debug, Clone, Default)]
pub struct ProviderMetadata {
    /// Must equal the configured issuer exactly.
    pub issuer: String,
    /// REQUIRED.
    pub authorization_endpoint: Option<String>,
    /// Required for the code flow.
    pub token_endpoint: Option<String>,
    /// RECOMMENDED.
    pub userinfo_endpoint: Option<String>,
    /// REQUIRED.
    pub jwks_uri: Option<String>,
    /// RP-Initiated Logout.
    pub end_session_endpoint: Option<String>,
    /// RFC 7009.
    pub revocation_endpoint: Option<String>,
    /// REQUIRED; must contain `code`.
    pub response_types_supported: Vec<String>,
    /// REQUIRED.
    pub subject_types_supported: Option<Vec<String>>,
    /// REQUIRED; intersected with what we implement.
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// When present, must contain `S256`.
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// RFC 9207: when true, the authorization response must carry `iss`.
    pub authorization_response_iss_parameter_supported: bool,
}

impl FromJson for ProviderMetadata {
    fn read(f: &Fields<'_>) -> Field<Self> {
        f.done(Self {
            issuer: f.req_str("issuer"),
            authorization_endpoint: f.str("authorization_endpoint"),
            token_endpoint: f.str("token_endpoint"),
            userinfo_endpoint: f.str("userinfo_endpoint"),
            jwks_uri: f.str("jwks_uri"),
            end_session_endpoint: f.str("end_session_endpoint"),
            revocation_endpoint: f.str("revocation_endpoint"),
            response_types_supported: f
                .strs("response_types_supported", false)
                .unwrap_or_default(),
            subject_types_supported: f.strs("subject_types_supported", false),
            id_token_signing_alg_values_supported: f
                .strs("id_token_signing_alg_values_supported", false)
                .unwrap_or_default(),
            code_challenge_methods_supported: f.strs("code_challenge_methods_supported", false),
            authorization_response_iss_parameter_supported: f
                .bool("authorization_response_iss_parameter_supported")
                .unwrap_or(false),
        })
    }
}

/// The discovery URL for an issuer (Discovery 4.1: `/.well-known/openid-configuration` appended
/// after removing a trailing `/`).
pub fn discovery_url(issuer: &str) -> String {
    cat(&[
        issuer.strip_suffix("/").unwrap_or(issuer),
        "/.well-known/openid-configuration",
    ])
}

/// Metadata that passed every check, with the signing algorithms we will accept.
#[derive(Debug, Clone)]
pub struct Provider {
    /// The checked document.
    pub metadata: ProviderMetadata,
    /// The provider's advertised algorithms that we implement, in the provider's order.
    pub allowed_algs: Vec<Alg>,
}

impl Provider {
    /// The authorization endpoint (checked to exist).
    pub fn authorization_endpoint(&self) -> &str {
        self.metadata
            .authorization_endpoint
            .as_deref()
            .unwrap_or_default()
    }
    /// The token endpoint (checked to exist).
    pub fn token_endpoint(&self) -> &str {
        self.metadata.token_endpoint.as_deref().unwrap_or_default()
    }
    /// The JWKS URI (checked to exist).
    pub fn jwks_uri(&self) -> &str {
        self.metadata.jwks_uri.as_deref().unwrap_or_default()
    }
}

fn endpoint(url: &Option<String>, required: bool, reason: &'static str) -> Result<(), Error> {
    match url {
        None if required => Err(ErrorKind::DiscoveryInvalid { reason }.into()),
        None => Ok(()),
        Some(u) => match HttpUrl::parse(u) {
            Some(p) if p.is_secure_enough() => Ok(()),
            _ => Err(ErrorKind::DiscoveryInvalid { reason }.into()),
        },
    }
}

/// Checks a discovery document against the configuration (Discovery 4.3 and the code flow's needs).
pub fn validate_metadata(
    metadata: ProviderMetadata,
    config: &BrowserConfig,
) -> Result<Provider, Error> {
    if metadata.issuer != config.issuer {
        return Err(ErrorKind::IssMismatch {
            source: IssuerSource::Discovery,
            found: metadata.issuer,
        }
        .into());
    }
    endpoint(
        &metadata.authorization_endpoint,
        true,
        "authorization_endpoint is missing or not https",
    )?;
    endpoint(
        &metadata.token_endpoint,
        true,
        "token_endpoint is missing or not https",
    )?;
    endpoint(&metadata.jwks_uri, true, "jwks_uri is missing or not https")?;
    endpoint(
        &metadata.userinfo_endpoint,
        false,
        "userinfo_endpoint is not https",
    )?;
    endpoint(
        &metadata.end_session_endpoint,
        false,
        "end_session_endpoint is not https",
    )?;
    endpoint(
        &metadata.revocation_endpoint,
        false,
        "revocation_endpoint is not https",
    )?;
    if !metadata
        .response_types_supported
        .iter()
        .any(|t| t == "code")
    {
        return Err(ErrorKind::DiscoveryInvalid {
            reason: "response_types_supported does not include `code`",
        }
        .into());
    }
    if metadata.subject_types_supported.is_none() {
        return Err(ErrorKind::DiscoveryInvalid {
            reason: "subject_types_supported is missing",
        }
        .into());
    }
    if let Some(methods) = &metadata.code_challenge_methods_supported {
        if !methods.iter().any(|m| m == "S256") {
            return Err(ErrorKind::DiscoveryInvalid {
                reason: "the provider does not support PKCE S256",
            }
            .into());
        }
    }
    let mut allowed_algs: Vec<Alg> = Vec::new();
    for a in &metadata.id_token_signing_alg_values_supported {
        if let Some(alg) = Alg::from_name(a) {
            allowed_algs.push(alg);
        }
    }
    if allowed_algs.is_empty() {
        return Err(ErrorKind::DiscoveryInvalid {
            reason: "id_token_signing_alg_values_supported has none of RS256, PS256, ES256",
        }
        .into());
    }
    Ok(Provider {
        metadata,
        allowed_algs,
    })
}

/// How long a cached discovery document is used before it is fetched again, in seconds.
pub const DISCOVERY_TTL: u64 = 3600;

/// The cache entry for a discovery document fetched at `fetched_at`: `{fetched_at}\n{document}`.
pub fn cache_entry(fetched_at: u64, document: &str) -> String {
    cat(&[&uint(fetched_at), "\n", document])
}

/// The document of a cache entry while it may be used: fetched less than [`DISCOVERY_TTL`]
/// ago, and not in the future (a clock that jumped back, or an entry someone wrote by hand).
pub fn cached_document(entry: &str, now: u64) -> Option<&str> {
    let (at, document) = split_once(entry, b'\n')?;
    let at = parse_uint(at)?;
    (at <= now && now - at < DISCOVERY_TTL).then_some(document)
}

/// The RFC 8414 authorization-server metadata URL of `issuer`: the well-known segment goes
/// between the host and the issuer's path (`https://op/realms/x` →
/// `https://op/.well-known/oauth-authorization-server/realms/x`). Read where the OpenID
/// discovery document lacks an endpoint (some providers list `revocation_endpoint` only there).
pub fn authorization_server_metadata_url(issuer: &str) -> Option<String> {
    let u = HttpUrl::parse(issuer)?;
    let path = u.rest.strip_suffix('/').unwrap_or(&u.rest);
    Some(cat(&[
        &u.origin(),
        "/.well-known/oauth-authorization-server",
        path,
    ]))
}

/// The revocation endpoint an RFC 8414 metadata document names, if it is for `issuer` (exactly,
/// RFC 8414 3.3) and the endpoint is https (or loopback http).
pub fn revocation_from_as_metadata(json: &str, issuer: &str) -> Result<Option<String>, Error> {
    // The members we read have the same names and meaning as in OpenID discovery.
    let m: ProviderMetadata = crate::core::json::decode(json, "authorization server metadata")?;
    if m.issuer != issuer {
        return Err(ErrorKind::IssMismatch {
            source: IssuerSource::Discovery,
            found: m.issuer,
        }
        .into());
    }
    endpoint(
        &m.revocation_endpoint,
        false,
        "revocation_endpoint is not https",
    )?;
    Ok(m.revocation_endpoint)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::core::config::ConfigInput;

    pub(crate) const ISSUER: &str = "https://op.example";

    pub(crate) fn config() -> BrowserConfig {
        let c = crate::core::config::Config::new(
            ConfigInput {
                issuer: ISSUER.into(),
                client_id: "app".into(),
                redirect_uri: "https://app.example/".into(),
                post_logout_redirect_uri: Some("https://app.example/".into()),
                ..Default::default()
            },
            "https://app.example",
        );
        match c {
            Ok(crate::core::config::Config::Browser(c)) => c,
            other => panic!("not a browser config: {other:?}"),
        }
    }

    pub(crate) fn metadata_json() -> serde_json::Value {
        serde_json::json!({
            "issuer": ISSUER,
            "authorization_endpoint": "https://op.example/auth",
            "token_endpoint": "https://op.example/token",
            "userinfo_endpoint": "https://op.example/me",
            "jwks_uri": "https://op.example/jwks",
            "end_session_endpoint": "https://op.example/session/end",
            "revocation_endpoint": "https://op.example/token/revocation",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["HS256", "ES256", "RS256", "none"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
            "something_new": {"ignored": true}
        })
    }

    pub(crate) fn from_value<T: FromJson>(v: serde_json::Value) -> T {
        crate::core::json::decode(&v.to_string(), "fixture").unwrap()
    }

    pub(crate) fn provider() -> Provider {
        validate_metadata(from_value(metadata_json()), &config()).unwrap()
    }

    fn with(f: impl FnOnce(&mut serde_json::Value)) -> Result<Provider, Error> {
        let mut v = metadata_json();
        f(&mut v);
        validate_metadata(from_value(v), &config())
    }

    #[test]
    fn discovery_url_appends_well_known() {
        assert_eq!(
            discovery_url("https://op.example"),
            "https://op.example/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url("https://op.example/t/1/"),
            "https://op.example/t/1/.well-known/openid-configuration"
        );
    }

    #[test]
    fn keeps_only_algorithms_we_implement() {
        assert_eq!(provider().allowed_algs, [Alg::ES256, Alg::RS256]);
    }

    #[test]
    fn issuer_must_match_exactly() {
        for found in [
            "https://op.example/",
            "https://OP.example",
            "https://evil.example",
        ] {
            let r = with(|v| v["issuer"] = found.into());
            assert!(
                matches!(
                    r.as_ref().map_err(|e| e.kind()),
                    Err(ErrorKind::IssMismatch {
                        source: IssuerSource::Discovery,
                        ..
                    })
                ),
                "{found}"
            );
        }
    }

    type Tamper = Box<dyn Fn(&mut serde_json::Value)>;

    #[test]
    fn refuses_incomplete_or_insecure_documents() {
        let cases: Vec<Tamper> = vec![
            Box::new(|v| {
                v.as_object_mut()
                    .unwrap()
                    .remove("authorization_endpoint")
                    .map(drop)
                    .unwrap()
            }),
            Box::new(|v| {
                v.as_object_mut()
                    .unwrap()
                    .remove("token_endpoint")
                    .map(drop)
                    .unwrap()
            }),
            Box::new(|v| {
                v.as_object_mut()
                    .unwrap()
                    .remove("jwks_uri")
                    .map(drop)
                    .unwrap()
            }),
            Box::new(|v| {
                v.as_object_mut()
                    .unwrap()
                    .remove("subject_types_supported")
                    .map(drop)
                    .unwrap()
            }),
            Box::new(|v| v["token_endpoint"] = "http://op.example/token".into()),
            Box::new(|v| v["userinfo_endpoint"] = "javascript:alert(1)".into()),
            Box::new(|v| v["response_types_supported"] = serde_json::json!(["id_token"])),
            Box::new(|v| v["code_challenge_methods_supported"] = serde_json::json!(["plain"])),
            Box::new(|v| {
                v["id_token_signing_alg_values_supported"] = serde_json::json!(["HS256", "none"])
            }),
        ];
        for (i, f) in cases.iter().enumerate() {
            let r = with(|v| f(v));
            assert!(
                matches!(
                    r.as_ref().map_err(|e| e.kind()),
                    Err(ErrorKind::DiscoveryInvalid { .. })
                ),
                "case {i}: {r:?}"
            );
        }
    }

    #[test]
    fn the_discovery_cache_lives_an_hour() {
        let entry = cache_entry(1_000, "{}");
        assert_eq!(cached_document(&entry, 1_000), Some("{}"));
        assert_eq!(
            cached_document(&entry, 1_000 + DISCOVERY_TTL - 1),
            Some("{}")
        );
        assert_eq!(
            cached_document(&entry, 1_000 + DISCOVERY_TTL),
            None,
            "expired"
        );
        assert_eq!(cached_document(&entry, 999), None, "from the future");
        for broken in ["", "{}", "x\n{}", "-1\n{}"] {
            assert_eq!(cached_document(broken, 1_000), None, "{broken:?}");
        }
    }

    #[test]
    fn rfc8414_metadata_supplies_a_missing_revocation_endpoint() {
        assert_eq!(
            authorization_server_metadata_url("https://op.example").as_deref(),
            Some("https://op.example/.well-known/oauth-authorization-server")
        );
        assert_eq!(
            authorization_server_metadata_url("https://op.example/realms/x/").as_deref(),
            Some("https://op.example/.well-known/oauth-authorization-server/realms/x")
        );
        let doc =
            |iss: &str, ep: &str| format!(r#"{{"issuer":"{iss}","revocation_endpoint":"{ep}"}}"#);
        assert_eq!(
            revocation_from_as_metadata(
                &doc("https://op.example", "https://op.example/o/revoke"),
                "https://op.example"
            )
            .unwrap()
            .as_deref(),
            Some("https://op.example/o/revoke")
        );
        assert_eq!(
            revocation_from_as_metadata(
                &doc("https://evil.example", "https://op.example/r"),
                "https://op.example"
            )
            .unwrap_err()
            .code(),
            "iss_mismatch"
        );
        assert!(revocation_from_as_metadata(
            &doc("https://op.example", "http://op.example/r"),
            "https://op.example"
        )
        .is_err());
        assert_eq!(
            revocation_from_as_metadata(r#"{"issuer":"https://op.example"}"#, "https://op.example")
                .unwrap(),
            None
        );
    }
}

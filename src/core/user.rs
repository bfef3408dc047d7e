//! The signed-in user, built the same way for both modes and for every API (Rust, JS, Leptos).
//!
//! Browser mode: the ID token's claims without the ones that describe the token (`iss`, `aud`,
//! `exp`, `nonce`, …), merged with the UserInfo response (whose `sub` was checked to be the
//! ID token's). Server mode: the backend's envelope: `data.user`, else the user derived from
//! `data.claims`, else a plain user object.

use crate::core::error::{Error, ErrorKind};
use crate::core::id_token::check_userinfo_sub;
use crate::core::json::{decode, Field, Fields, FromJson, Json};
use crate::core::text::cat;

/// A claim's value: JSON, with numbers kept exactly as the provider or backend wrote them.
pub type Value = Json;

/// Members of an ID token that describe the token, not the user: left out of the user's
/// attributes (they stay readable in [`User::token_claims`]).
const PROTOCOL_CLAIMS: &[&str] = &[
    "iss",
    "aud",
    "exp",
    "iat",
    "nbf",
    "nonce",
    "azp",
    "at_hash",
    "c_hash",
    "s_hash",
    "auth_time",
    "sid",
    "acr",
    "amr",
    "jti",
];

/// The claims a backend's `data.claims` contributes to the user when it sends no `data.user`.
const SERVER_CLAIM_FIELDS: &[&str] = &[
    "sub",
    "email",
    "name",
    "picture",
    "roles",
    "permissions",
    "tenant",
];

/// The signed-in user.
///
/// The common claims are fields; every other one is read by name with [`User::claim`]. Values
/// are never altered: a number reads back exactly as it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// Subject: the user's stable identifier at the provider.
    pub sub: String,
    /// `name`.
    pub name: Option<String>,
    /// `given_name`.
    pub given_name: Option<String>,
    /// `family_name`.
    pub family_name: Option<String>,
    /// `email`.
    pub email: Option<String>,
    /// `email_verified`.
    pub email_verified: Option<bool>,
    /// `picture`: the URL of the user's picture.
    pub picture: Option<String>,
    /// The tenant or organisation: `tenant`, else `tenantId`, else `org_id`, else
    /// `organization` (when it is a string).
    pub tenant: Option<String>,
    /// `roles` (a string array, or one string).
    pub roles: Vec<String>,
    /// `permissions` (a string array, or one string).
    pub permissions: Vec<String>,
    attributes: Vec<(String, Value)>,
    token_claims: Vec<(String, Value)>,
}

impl User {
    /// The user from a verified ID token's payload and, when it was read, the UserInfo
    /// response (its `sub` already checked). `None` when the payload is not a JSON object
    /// with a `sub`.
    pub(crate) fn from_id_token(payload: &str, userinfo: Option<&str>) -> Option<Self> {
        let Some(Json::Obj(claims)) = crate::core::json::parse(payload) else {
            return None;
        };
        let mut attributes: Vec<(String, Value)> = claims
            .iter()
            .filter(|(k, _)| !PROTOCOL_CLAIMS.contains(&k.as_str()))
            .cloned()
            .collect();
        if let Some(Json::Obj(info)) = userinfo.and_then(crate::core::json::parse) {
            for (k, v) in info {
                set(&mut attributes, k, v);
            }
        }
        let sub = str_of(&claims, "sub")?;
        Some(Self::build(sub, attributes, claims))
    }

    /// The user of a server-mode `me` answer: `user` (`data.user` or a plain user object)
    /// preferred; else derived from `claims`, completed by `tenant_id` (`data.tenantId`).
    /// `None` when there is no user or it has no `sub`.
    pub(crate) fn from_server(
        user: Option<&Json>,
        claims: Option<&Json>,
        tenant_id: Option<&Json>,
    ) -> Option<Self> {
        let claims = match claims {
            Some(Json::Obj(c)) => c.clone(),
            _ => Vec::new(),
        };
        let attributes = match user {
            Some(Json::Obj(u)) => u.clone(),
            _ if !claims.is_empty() => {
                let mut a = Vec::new();
                for k in SERVER_CLAIM_FIELDS {
                    if let Some((_, v)) = claims.iter().find(|(n, _)| n == k) {
                        a.push(((*k).to_owned(), v.clone()));
                    }
                }
                if let (false, Some(t)) = (a.iter().any(|(k, _)| k == "tenant"), tenant_id) {
                    a.push(("tenant".to_owned(), t.clone()));
                }
                a
            }
            _ => return None,
        };
        let sub = str_of(&attributes, "sub").filter(|s| !s.is_empty())?;
        Some(Self::build(sub, attributes, claims))
    }

    fn build(
        sub: String,
        attributes: Vec<(String, Value)>,
        token_claims: Vec<(String, Value)>,
    ) -> Self {
        let s = |k| str_of(&attributes, k);
        let tenant = s("tenant")
            .or_else(|| s("tenantId"))
            .or_else(|| s("org_id"))
            .or_else(|| s("organization"));
        Self {
            name: s("name"),
            given_name: s("given_name"),
            family_name: s("family_name"),
            email: s("email"),
            email_verified: match get(&attributes, "email_verified") {
                Some(Json::Bool(b)) => Some(*b),
                _ => None,
            },
            picture: s("picture"),
            tenant,
            roles: strings(get(&attributes, "roles")),
            permissions: strings(get(&attributes, "permissions")),
            sub,
            attributes,
            token_claims,
        }
    }

    /// A claim of the user by name (`"locale"`, `"org_id"`, a custom claim, …), as the
    /// provider or backend sent it. Protocol claims of the ID token (`iss`, `exp`, `nonce`, …)
    /// are not user claims: read them with [`User::token_claims`].
    pub fn claim(&self, name: &str) -> Option<&Value> {
        get(&self.attributes, name)
    }

    /// Every claim of the user, in the order received (UserInfo's after the ID token's).
    pub fn claims(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.attributes.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Browser mode: every claim of the validated ID token, protocol claims included. Server
    /// mode: the backend's `data.claims` (empty when it sent none).
    pub fn token_claims(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.token_claims.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The user as one JSON object: every claim of the user, `sub`, and `claims` (the object
    /// of [`User::token_claims`]). This is the `user` of the JS API's `SessionState`.
    pub fn to_json(&self) -> String {
        let mut members = self.attributes.clone();
        set(&mut members, "sub".to_owned(), Json::Str(self.sub.clone()));
        set(
            &mut members,
            "claims".to_owned(),
            Json::Obj(self.token_claims.clone()),
        );
        Json::Obj(members).to_text()
    }

    /// True when the user has the role `role` (exact match).
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// True when the user has the permission `permission` (exact match).
    pub fn has_permission(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission)
    }

    /// A short name to show: `name`, else `given_name family_name`, else `email`, else `sub`.
    pub fn display_name(&self) -> String {
        if let Some(n) = self.name.as_deref().filter(|n| !n.is_empty()) {
            return n.to_owned();
        }
        match (&self.given_name, &self.family_name) {
            (Some(g), Some(f)) => return cat(&[g, " ", f]),
            (Some(n), None) | (None, Some(n)) => return n.clone(),
            (None, None) => {}
        }
        self.email.clone().unwrap_or_else(|| self.sub.clone())
    }
}

fn get<'a>(members: &'a [(String, Value)], name: &str) -> Option<&'a Value> {
    members.iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn str_of(members: &[(String, Value)], name: &str) -> Option<String> {
    match get(members, name) {
        Some(Json::Str(s)) => Some(s.clone()),
        _ => None,
    }
}

/// Replaces the member `name`, or appends it.
fn set(members: &mut Vec<(String, Value)>, name: String, value: Value) {
    match members.iter_mut().find(|(k, _)| *k == name) {
        Some((_, v)) => *v = value,
        None => members.push((name, value)),
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Json::Str(s)) => vec![s.clone()],
        Some(Json::Arr(items)) => items
            .iter()
            .filter_map(|i| match i {
                Json::Str(s) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

// ---- UserInfo policy ----------------------------------------------------------------------

/// The profile members of an ID token or UserInfo response that decide the UserInfo call.
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

/// Whether UserInfo is read after a token response: only at sign-in (a renewal keeps the stored
/// response), only when the provider has the endpoint, the app asked for `profile` or `email`,
/// and the verified ID token's payload carries neither `email` nor `name` (providers that
/// conform keep them out of the ID token).
pub fn userinfo_wanted(
    renewal: bool,
    has_endpoint: bool,
    scopes: &[String],
    id_token_payload: &str,
) -> Result<bool, Error> {
    if renewal || !has_endpoint || !scopes.iter().any(|s| s == "profile" || s == "email") {
        return Ok(false);
    }
    let hints: ProfileHints = decode(id_token_payload, "ID token claims")?;
    Ok(hints.email.is_none() && hints.name.is_none())
}

/// What a UserInfo answer means for the sign-in: its JSON text to store, or
/// `UserinfoUnavailable` when it could not be read (no answer, a status other than 200). That
/// error does not fail the sign-in (the ID token already identifies the user): the caller
/// keeps the session and reports it. A response for another subject is refused (Core 5.3.2)
/// and so is an unreadable body: those fail the sign-in.
pub fn userinfo_outcome(reply: Option<(u16, &str)>, sub: &str) -> Result<String, Error> {
    let Some((200, body)) = reply else {
        return Err(ErrorKind::UserinfoUnavailable.into());
    };
    let info: ProfileHints = decode(body, "UserInfo response")?;
    check_userinfo_sub(sub, info.sub.as_deref())?;
    Ok(body.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_token_claims_merged_with_userinfo_without_protocol_claims() {
        let payload = r#"{"iss":"https://op","aud":"app","exp":1,"iat":0,"nonce":"n","sub":"alice","name":"Old","email":"a@x","roles":["admin","dev"],"org_id":"acme"}"#;
        let info = r#"{"sub":"alice","name":"Alice A","picture":"https://p/a.png","email_verified":true,"score":0.5}"#;
        let u = User::from_id_token(payload, Some(info)).unwrap();
        assert_eq!(u.sub, "alice");
        assert_eq!(u.name.as_deref(), Some("Alice A"), "UserInfo wins");
        assert_eq!(u.email.as_deref(), Some("a@x"));
        assert_eq!(u.email_verified, Some(true));
        assert_eq!(u.picture.as_deref(), Some("https://p/a.png"));
        assert_eq!(u.tenant.as_deref(), Some("acme"));
        assert!(u.has_role("admin") && u.has_role("dev") && !u.has_role("ops"));
        assert!(u.claim("iss").is_none() && u.claim("nonce").is_none());
        assert_eq!(
            u.token_claims()
                .find(|(k, _)| *k == "iss")
                .map(|(_, v)| v.to_text())
                .as_deref(),
            Some("\"https://op\"")
        );
        match u.claim("score") {
            Some(Json::Num(n)) => assert_eq!(n.as_str(), "0.5"),
            other => panic!("score: {other:?}"),
        }
        let json = u.to_json();
        assert!(json.contains(r#""score":0.5"#), "{json}");
        assert!(json.contains(r#""claims":{"iss":"https://op""#), "{json}");
        assert!(!json.starts_with(r#"{"iss""#), "{json}");
    }

    #[test]
    fn id_token_without_sub_or_object_is_no_user() {
        assert!(User::from_id_token(r#"{"name":"x"}"#, None).is_none());
        assert!(User::from_id_token("[]", None).is_none());
        assert!(User::from_id_token("not json", None).is_none());
    }

    #[test]
    fn server_user_preferred_then_claims() {
        let user = crate::core::json::parse(
            r#"{"sub":"u1","name":"Bob","balance":12.75,"permissions":"read"}"#,
        )
        .unwrap();
        let claims =
            crate::core::json::parse(r#"{"sub":"u1","email":"b@x","roles":["r"],"extra":1}"#)
                .unwrap();
        let u = User::from_server(Some(&user), Some(&claims), None).unwrap();
        assert_eq!(u.name.as_deref(), Some("Bob"));
        assert_eq!(
            u.email, None,
            "data.user is the user; claims are not merged in"
        );
        assert_eq!(u.permissions, ["read"]);
        assert!(u.to_json().contains(r#""balance":12.75"#));

        let tenant = Json::Str("t1".into());
        let u = User::from_server(None, Some(&claims), Some(&tenant)).unwrap();
        assert_eq!(u.email.as_deref(), Some("b@x"));
        assert_eq!(u.roles, ["r"]);
        assert_eq!(u.tenant.as_deref(), Some("t1"));
        assert!(
            u.claim("extra").is_none(),
            "only the contract's fields are derived"
        );
        assert!(u.token_claims().any(|(k, _)| k == "extra"));

        assert!(User::from_server(None, None, None).is_none());
        let nosub = crate::core::json::parse(r#"{"name":"x"}"#).unwrap();
        assert!(User::from_server(Some(&nosub), None, None).is_none());
    }

    #[test]
    fn display_name_falls_back() {
        let u =
            User::from_id_token(r#"{"sub":"s","given_name":"A","family_name":"B"}"#, None).unwrap();
        assert_eq!(u.display_name(), "A B");
        let u = User::from_id_token(r#"{"sub":"s","email":"e@x"}"#, None).unwrap();
        assert_eq!(u.display_name(), "e@x");
        let u = User::from_id_token(r#"{"sub":"s"}"#, None).unwrap();
        assert_eq!(u.display_name(), "s");
    }

    #[test]
    fn userinfo_is_read_at_sign_in_when_the_id_token_lacks_the_profile() {
        let scopes = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let bare = r#"{"sub":"alice"}"#;
        let full = r#"{"sub":"alice","email":"a@example.com"}"#;
        let profile = scopes(&["openid", "profile"]);
        assert!(userinfo_wanted(false, true, &profile, bare).unwrap());
        assert!(
            !userinfo_wanted(true, true, &profile, bare).unwrap(),
            "renewal"
        );
        assert!(
            !userinfo_wanted(false, false, &profile, bare).unwrap(),
            "no endpoint"
        );
        assert!(
            !userinfo_wanted(false, true, &scopes(&["openid"]), bare).unwrap(),
            "not asked"
        );
        assert!(
            !userinfo_wanted(false, true, &profile, full).unwrap(),
            "already there"
        );
        assert!(userinfo_wanted(false, true, &profile, "not json").is_err());
    }

    #[test]
    fn userinfo_answers() {
        let ok = r#"{"sub":"alice","name":"Alice"}"#;
        assert_eq!(userinfo_outcome(Some((200, ok)), "alice").unwrap(), ok);
        for unreachable in [None, Some((500, ok)), Some((401, ok))] {
            assert_eq!(
                userinfo_outcome(unreachable, "alice").unwrap_err().code(),
                "userinfo_unavailable",
                "reported, and the sign-in goes on"
            );
        }
        assert_eq!(
            userinfo_outcome(Some((200, ok)), "mallory")
                .unwrap_err()
                .code(),
            "token_invalid",
            "another subject"
        );
        assert!(userinfo_outcome(Some((200, "<html>")), "alice").is_err());
    }
}

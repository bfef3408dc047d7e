//! The JS option objects (camelCase) read into the crate's typed options. A member of the
//! wrong type is refused with `config_invalid` naming it and the TypeScript type to read.

use oidc_session::{
    ConfigInput, Error, ErrorKind, Mode, SignInOptions, SignOutOptions, StorageKind, TokenVault,
    VaultFallback,
};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/facade.js")]
extern "C" {
    /// True for a non-null object that is not an array.
    #[wasm_bindgen(js_name = isObject)]
    fn is_object(v: &JsValue) -> bool;
    /// `o[k]` as a string; `undefined` when absent or null; throws on another type.
    #[wasm_bindgen(catch, js_name = optString)]
    fn opt_string(o: &JsValue, k: &str) -> Result<Option<String>, JsValue>;
    /// `o[k]` as a boolean; see `optString`.
    #[wasm_bindgen(catch, js_name = optBool)]
    fn opt_bool(o: &JsValue, k: &str) -> Result<Option<bool>, JsValue>;
    /// `o[k]` as a finite number; see `optString`.
    #[wasm_bindgen(catch, js_name = optNumber)]
    fn opt_number(o: &JsValue, k: &str) -> Result<Option<f64>, JsValue>;
    /// `o[k]` as a plain object; see `optString`.
    #[wasm_bindgen(catch, js_name = optObject)]
    fn opt_object(o: &JsValue, k: &str) -> Result<Option<js_sys::Object>, JsValue>;
    /// `o[k]` as an array of strings; see `optString`.
    #[wasm_bindgen(catch, js_name = optStrings)]
    fn opt_strings(o: &JsValue, k: &str) -> Result<Option<Vec<String>>, JsValue>;
    /// `o[k]` as a record of strings, flattened `[key, value, key, value, …]`; see `optString`.
    #[wasm_bindgen(catch, js_name = optRecord)]
    fn opt_record(o: &JsValue, k: &str) -> Result<Option<Vec<String>>, JsValue>;
}

/// Reads the members of one JS object; `ty` is the TypeScript type named in errors.
struct Reader<'a> {
    o: &'a JsValue,
    ty: &'static str,
}

impl Reader<'_> {
    fn bad(&self, k: &'static str) -> Error {
        ErrorKind::ConfigInvalid {
            field: k,
            reason: self.ty,
        }
        .into()
    }

    fn str(&self, k: &'static str) -> Result<Option<String>, Error> {
        opt_string(self.o, k).map_err(|_| self.bad(k))
    }

    fn bool(&self, k: &'static str) -> Result<Option<bool>, Error> {
        opt_bool(self.o, k).map_err(|_| self.bad(k))
    }

    /// A whole, non-negative number.
    fn uint(&self, k: &'static str) -> Result<Option<u64>, Error> {
        match opt_number(self.o, k).map_err(|_| self.bad(k))? {
            None => Ok(None),
            Some(n) if n >= 0.0 && n.fract() == 0.0 && n < 9.0e15 => Ok(Some(n as u64)),
            Some(_) => Err(self.bad(k)),
        }
    }

    fn strs(&self, k: &'static str) -> Result<Option<Vec<String>>, Error> {
        opt_strings(self.o, k).map_err(|_| self.bad(k))
    }

    fn record(&self, k: &'static str) -> Result<Option<Vec<(String, String)>>, Error> {
        let Some(flat) = opt_record(self.o, k).map_err(|_| self.bad(k))? else {
            return Ok(None);
        };
        let mut pairs = Vec::with_capacity(flat.len() / 2);
        let mut it = flat.into_iter();
        while let (Some(name), Some(value)) = (it.next(), it.next()) {
            pairs.push((name, value));
        }
        Ok(Some(pairs))
    }
}

/// `new SessionManager(config)`'s object.
pub(crate) fn config(v: &JsValue) -> Result<ConfigInput, Error> {
    if !is_object(v) {
        return Err(ErrorKind::ConfigInvalid {
            field: "config",
            reason: "must be a plain object",
        }
        .into());
    }
    let r = Reader {
        o: v,
        ty: "has the wrong type (see the SessionConfig type)",
    };
    let mode = match r.str("mode")?.as_deref() {
        None | Some("browser") => Mode::Browser,
        Some("server") => Mode::Server,
        Some(_) => {
            return Err(ErrorKind::ConfigInvalid {
                field: "mode",
                reason: "must be \"browser\" or \"server\"",
            }
            .into())
        }
    };
    let storage = match r.str("storage")?.as_deref() {
        None => None,
        Some("memory") => Some(StorageKind::Memory),
        Some("session") => Some(StorageKind::Session),
        Some("local") => Some(StorageKind::Local),
        Some(_) => return Err(r.bad("storage")),
    };
    let token_vault = match opt_object(v, "tokenVault").map_err(|_| r.bad("tokenVault"))? {
        None => None,
        Some(o) => Some(token_vault(&o)?),
    };
    Ok(ConfigInput {
        issuer: r.str("issuer")?.unwrap_or_default(),
        client_id: r.str("clientId")?.unwrap_or_default(),
        redirect_uri: r.str("redirectUri")?.unwrap_or_default(),
        post_logout_redirect_uri: r.str("postLogoutRedirectUri")?,
        scopes: r.strs("scopes")?,
        storage,
        token_vault,
        clock_skew_seconds: r
            .uint("clockSkewSeconds")?
            .map(|s| u32::try_from(s).unwrap_or(u32::MAX)),
        trusted_audiences: r.strs("trustedAudiences")?,
        auto_refresh: r.bool("autoRefresh")?,
        refresh_margin_seconds: r.uint("refreshMarginSeconds")?,
        silent_sso: r.bool("silentSso")?,
        silent_redirect_uri: r.str("silentRedirectUri")?,
        silent_timeout_seconds: r.uint("silentTimeoutSeconds")?,
        mode,
        server_base_path: r.str("serverBasePath")?,
        server_origin: r.str("serverOrigin")?,
        me_path: r.str("mePath")?,
        refresh_path: r.str("refreshPath")?,
        sign_out_path: r.str("signOutPath")?,
        login_path: r.str("loginPath")?,
        csrf_header_name: r.str("csrfHeaderName")?,
        csrf_header_value: r.str("csrfHeaderValue")?,
        refresh_on_bootstrap: r.bool("refreshOnBootstrap")?,
    })
}

/// `tokenVault: { serviceWorker, whenUnavailable }`.
fn token_vault(o: &JsValue) -> Result<TokenVault, Error> {
    let r = Reader {
        o,
        ty: "has the wrong type (see the TokenVaultConfig type)",
    };
    let when_unavailable = match r.str("whenUnavailable")?.as_deref() {
        None | Some("memory") => VaultFallback::Memory,
        Some("storage") => VaultFallback::Storage,
        Some("refuse") => VaultFallback::Refuse,
        Some(_) => return Err(r.bad("whenUnavailable")),
    };
    Ok(TokenVault {
        service_worker: r
            .str("serviceWorker")?
            .ok_or_else(|| r.bad("serviceWorker"))?,
        when_unavailable,
    })
}

/// `signIn(options)`'s object; `undefined`, `null` or a non-object read as the defaults.
pub(crate) fn sign_in(v: &JsValue) -> Result<SignInOptions, Error> {
    if !is_object(v) {
        return Ok(SignInOptions::default());
    }
    let r = Reader {
        o: v,
        ty: "has the wrong type (see the SignInOptions type)",
    };
    Ok(SignInOptions {
        return_to: r.str("returnTo")?,
        prompt: r.str("prompt")?,
        login_hint: r.str("loginHint")?,
        max_age: r.uint("maxAge")?,
        ui_locales: r.str("uiLocales")?,
        scopes: r.strs("scopes")?,
        extra_params: r.record("extraParams")?,
        replace: r.bool("replace")?.unwrap_or(false),
    })
}

/// `signOut(options)`'s object; `undefined`, `null` or a non-object read as the defaults.
pub(crate) fn sign_out(v: &JsValue) -> Result<SignOutOptions, Error> {
    if !is_object(v) {
        return Ok(SignOutOptions::default());
    }
    let r = Reader {
        o: v,
        ty: "has the wrong type (see the SignOutOptions type)",
    };
    Ok(SignOutOptions {
        return_to: r.str("returnTo")?,
        local_only: r.bool("localOnly")?.unwrap_or(false),
    })
}

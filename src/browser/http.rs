//! HTTP through the browser's `fetch`. Every answer is vetted by the core before a JSON parser
//! sees it, so an HTML error page becomes `html_response`, never "Unexpected token <".

use crate::browser::builtins::{Array, Promise};
use crate::browser::{describe, Call};
use crate::core::error::{Error, ErrorKind};
use crate::core::server::ServerConfig;
use wasm_bindgen::prelude::*;

pub(crate) use crate::client::platform::{JsonReply, Reply};

fn network(e: JsValue) -> Error {
    ErrorKind::Network {
        detail: describe(&e),
    }
    .into()
}

#[wasm_bindgen(module = "/src/browser/platform.js")]
extern "C" {
    #[wasm_bindgen(js_name = request)]
    fn js_request(
        method: &str,
        url: &str,
        body: Option<&str>,
        bearer: Option<&str>,
        csrf_name: Option<&str>,
        csrf_value: Option<&str>,
        with_cookies: bool,
        timeout_ms: u32,
    ) -> Promise;
}

/// What `request` needs besides the method and URL.
#[derive(Default)]
struct Options<'a> {
    body: Option<String>,
    bearer: Option<&'a str>,
    csrf: Option<(&'a str, &'a str)>,
    with_cookies: bool,
}

/// One request through `platform.js`; any HTTP answer is `Ok`, no answer is `network`.
fn request(method: &str, url: &str, o: Options<'_>) -> Promise {
    let (csrf_name, csrf_value) = o.csrf.unzip();
    js_request(
        method,
        url,
        o.body.as_deref(),
        o.bearer,
        csrf_name,
        csrf_value,
        o.with_cookies,
        crate::core::token::REQUEST_TIMEOUT_MS,
    )
}

/// The `[status, contentType, retryAfter, body]` array `request` resolves with.
fn reply(r: Result<JsValue, JsValue>) -> Result<Reply, Error> {
    let a: Array = r.map_err(network)?.unchecked_into();
    Ok(Reply {
        status: a.get(0).as_f64().map_or(0, |s| s as u16),
        content_type: a.get(1).as_string(),
        retry_after: a.get(2).as_string(),
        body: a.get(3).as_string().unwrap_or_default(),
    })
}

fn vetted(r: Result<JsValue, JsValue>) -> Result<JsonReply, Error> {
    JsonReply::vetted(reply(r)?)
}

/// `GET url` expecting JSON, optionally with a bearer token.
pub fn get_json(url: &str, bearer: Option<&str>) -> Call<JsonReply> {
    let o = Options {
        bearer,
        ..Options::default()
    };
    Call::new(request("GET", url, o), vetted)
}

fn form(body: String) -> Options<'static> {
    Options {
        body: Some(body),
        ..Options::default()
    }
}

/// `POST url` with a form body, expecting JSON (the token endpoint).
pub fn post_form(url: &str, body: String) -> Call<JsonReply> {
    Call::new(request("POST", url, form(body)), vetted)
}

/// `POST url` with a form body where any 2xx is success and the body does not matter (RFC 7009).
pub fn post_form_no_content(url: &str, body: String) -> Call<u16> {
    Call::new(request("POST", url, form(body)), |r| {
        match reply(r)?.status {
            s @ 200..=299 => Ok(s),
            s => Err(ErrorKind::HttpError { status: s }.into()),
        }
    })
}

/// A request to the server-mode backend (`url` one of `server`'s endpoints): the CSRF header
/// always, cookies across origins when the backend is on another origin.
pub fn backend(method: &str, url: &str, server: &ServerConfig) -> Call<Reply> {
    let o = Options {
        csrf: Some(server.csrf()),
        with_cookies: server.cross_origin,
        ..Options::default()
    };
    Call::new(request(method, url, o), reply)
}

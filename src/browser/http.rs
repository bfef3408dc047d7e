//! HTTP through the browser's `fetch`. Every answer is vetted by the core before a JSON parser
//! sees it, so an HTML error page becomes `html_response`, never "Unexpected token <".

use crate::browser::describe;
use crate::core::error::Error;
use crate::core::token::check_json_response;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestInit, Response};

/// A vetted answer: its status and JSON text.
pub struct JsonReply {
    /// HTTP status.
    pub status: u16,
    /// Body text, known to start like JSON.
    pub body: String,
}

fn network(e: JsValue) -> Error {
    Error::Network {
        detail: describe(&e),
    }
}

async fn fetch(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> Result<Response, Error> {
    let init = RequestInit::new();
    init.set_method(method);
    if let Some(b) = body {
        init.set_body(&JsValue::from(b));
    }
    let req = Request::new_with_str_and_init(url, &init).map_err(network)?;
    for (k, v) in headers {
        req.headers().set(k, v).map_err(network)?;
    }
    let w = web_sys::window().ok_or(Error::Unsupported { what: "no window" })?;
    let resp = JsFuture::from(w.fetch_with_request(&req))
        .await
        .map_err(network)?;
    Ok(resp.unchecked_into())
}

async fn json_reply(resp: Response) -> Result<JsonReply, Error> {
    let status = resp.status();
    let headers = resp.headers();
    let content_type = headers.get("content-type").ok().flatten();
    let retry_after = headers.get("retry-after").ok().flatten();
    let text = JsFuture::from(resp.text().map_err(network)?)
        .await
        .map_err(network)?;
    let body = text.as_string().unwrap_or_default();
    check_json_response(
        status,
        content_type.as_deref(),
        &body,
        retry_after.as_deref(),
    )?;
    Ok(JsonReply { status, body })
}

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");
const ACCEPT_JSON: (&str, &str) = ("Accept", "application/json");

/// `GET url` expecting JSON, optionally with a bearer token.
pub async fn get_json(url: &str, bearer: Option<&str>) -> Result<JsonReply, Error> {
    let auth = bearer.map(|t| ["Bearer ", t].concat());
    let mut headers = vec![ACCEPT_JSON];
    if let Some(a) = &auth {
        headers.push(("Authorization", a));
    }
    json_reply(fetch("GET", url, &headers, None).await?).await
}

/// `POST url` with a form body, expecting JSON (the token endpoint).
pub async fn post_form(url: &str, body: String) -> Result<JsonReply, Error> {
    json_reply(fetch("POST", url, &[FORM, ACCEPT_JSON], Some(body)).await?).await
}

/// `POST url` with a form body where any 2xx is success and the body does not matter (RFC 7009).
pub async fn post_form_no_content(url: &str, body: String) -> Result<u16, Error> {
    match fetch("POST", url, &[FORM], Some(body)).await?.status() {
        s @ 200..=299 => Ok(s),
        s => Err(Error::HttpError { status: s }),
    }
}

/// An answer whose body may be anything (the server-mode backend).
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// Body text.
    pub body: String,
}

/// Sends `req` as is.
pub async fn send(req: &Request) -> Result<Response, Error> {
    let w = web_sys::window().ok_or(Error::Unsupported { what: "no window" })?;
    let resp = JsFuture::from(w.fetch_with_request(req))
        .await
        .map_err(network)?;
    Ok(resp.unchecked_into())
}

/// A request to the server-mode backend: the CSRF header always, cookies across origins when the
/// backend is on another origin.
pub async fn backend(
    method: &str,
    url: &str,
    csrf: (&str, &str),
    cross_origin: bool,
) -> Result<Reply, Error> {
    let init = RequestInit::new();
    init.set_method(method);
    if cross_origin {
        init.set_credentials(web_sys::RequestCredentials::Include);
    }
    let req = Request::new_with_str_and_init(url, &init).map_err(network)?;
    req.headers().set(csrf.0, csrf.1).map_err(network)?;
    req.headers()
        .set(ACCEPT_JSON.0, ACCEPT_JSON.1)
        .map_err(network)?;
    let resp = send(&req).await?;
    let status = resp.status();
    let content_type = resp.headers().get("content-type").ok().flatten();
    let text = JsFuture::from(resp.text().map_err(network)?)
        .await
        .map_err(network)?;
    Ok(Reply {
        status,
        content_type,
        body: text.as_string().unwrap_or_default(),
    })
}

//! HTTP through `fetch` (gloo-net). Every answer is vetted by the core before a JSON parser sees it,
//! so an HTML error page becomes `html_response`, never "Unexpected token <".

use crate::core::error::Error;
use crate::core::token::check_json_response;
use gloo_net::http::{Request, RequestBuilder, Response};

/// A vetted answer: its status and JSON text.
pub struct JsonReply {
    /// HTTP status.
    pub status: u16,
    /// Body text, known to start like JSON.
    pub body: String,
}

async fn send(req: Result<Request, gloo_net::Error>) -> Result<JsonReply, Error> {
    let req = req.map_err(network)?;
    let resp: Response = req.send().await.map_err(network)?;
    let status = resp.status();
    let headers = resp.headers();
    let content_type = headers.get("content-type");
    let retry_after = headers.get("retry-after");
    let body = resp.text().await.map_err(network)?;
    check_json_response(status, content_type.as_deref(), &body[..floor(&body, 256)], retry_after.as_deref())?;
    Ok(JsonReply { status, body })
}

fn network(e: gloo_net::Error) -> Error {
    Error::Network { detail: e.to_string() }
}

/// The largest char boundary at or below `max`.
fn floor(s: &str, max: usize) -> usize {
    let mut i = max.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// `GET url` expecting JSON, optionally with a bearer token.
pub async fn get_json(url: &str, bearer: Option<&str>) -> Result<JsonReply, Error> {
    let mut b: RequestBuilder = Request::get(url).header("Accept", "application/json");
    if let Some(t) = bearer {
        let mut auth = String::from("Bearer ");
        auth.push_str(t);
        b = b.header("Authorization", &auth);
    }
    send(b.build()).await
}

/// `POST url` with a form body, expecting JSON (token, revocation endpoints).
pub async fn post_form(url: &str, body: String) -> Result<JsonReply, Error> {
    let req = Request::post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Accept", "application/json")
        .body(body);
    send(req).await
}

/// `POST url` with a form body where any 2xx is success and the body does not matter (RFC 7009).
pub async fn post_form_no_content(url: &str, body: String) -> Result<u16, Error> {
    let req = Request::post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .map_err(network)?;
    let resp = req.send().await.map_err(network)?;
    match resp.status() {
        s @ 200..=299 => Ok(s),
        s => Err(Error::HttpError { status: s }),
    }
}

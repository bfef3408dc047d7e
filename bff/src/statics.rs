//! Optional static files, so that a page and the wasm package are same-origin with the API:
//! `BFF_STATIC_DIR` at `/` (with `/config.js` generated when the directory has none, and an SPA
//! fallback to `index.html` for extensionless paths) and `BFF_PKG_DIR` at `/pkg/`.
//! A production deployment would usually leave this to a CDN or reverse proxy.

use crate::App;
use axum::extract::State;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const MIME: &[(&str, &str)] = &[
    ("html", "text/html; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("mjs", "text/javascript; charset=utf-8"),
    ("wasm", "application/wasm"),
    ("svg", "image/svg+xml"),
    ("css", "text/css; charset=utf-8"),
    ("json", "application/json; charset=utf-8"),
    ("map", "application/json; charset=utf-8"),
    ("ts", "text/plain; charset=utf-8"),
    ("txt", "text/plain; charset=utf-8"),
    ("png", "image/png"),
    ("ico", "image/x-icon"),
];

pub async fn serve(State(app): State<Arc<App>>, method: Method, uri: Uri) -> Response {
    let head = method == Method::HEAD;
    if method != Method::GET && !head {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let Some(path) = decode_path(uri.path()) else {
        return plain(StatusCode::BAD_REQUEST, "bad request\n");
    };
    let c = &app.config;
    let (root, relative, spa) = if path == "/pkg" || path.starts_with("/pkg/") {
        (c.pkg_dir.as_ref(), &path["/pkg".len()..], false)
    } else {
        (c.static_dir.as_ref(), path.as_str(), true)
    };
    let Some(root) = root else {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    };
    let mut file = root.join(relative.trim_start_matches('/'));
    if relative.is_empty() || relative.ends_with('/') {
        file = file.join("index.html");
    }
    let mut body = tokio::fs::read(&file).await.ok();
    if body.is_none() && spa && path == "/config.js" {
        return with_headers(
            StatusCode::OK,
            "text/javascript; charset=utf-8",
            config_js(&app).into_bytes(),
            head,
            &app,
        );
    }
    if body.is_none() && spa && extension(&file).is_none() {
        file = root.join("index.html");
        body = tokio::fs::read(&file).await.ok();
    }
    let Some(body) = body else {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    };
    let ext = extension(&file).unwrap_or_default();
    let mime = MIME
        .iter()
        .find(|(e, _)| *e == ext)
        .map(|(_, m)| *m)
        .unwrap_or("application/octet-stream");
    with_headers(StatusCode::OK, mime, body, head, &app)
}

/// What `www/serve.mjs` serves as `/config.js`, plus the server-mode settings.
fn config_js(app: &App) -> String {
    let c = &app.config;
    let cfg = json!({
        "issuer": c.issuer,
        "shortIssuer": c.issuer,
        "mode": "server",
        "serverBasePath": c.base_path,
        "csrfHeader": c.csrf_header,
        "csrfValue": c.csrf_value,
    });
    format!("window.OIDC_DEMO = Object.freeze({cfg});\n")
}

fn extension(p: &Path) -> Option<String> {
    p.extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
}

/// Percent-decodes a URL path and refuses traversal (`..`, `.`), backslashes and NUL.
fn decode_path(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let s = String::from_utf8(out).ok()?;
    if !s.starts_with('/') || s.contains(['\\', '\0']) {
        return None;
    }
    if s.split('/').any(|seg| seg == ".." || seg == ".") {
        return None;
    }
    // Each segment must stay a plain name once joined.
    let p = PathBuf::from(s.trim_start_matches('/'));
    if p.components()
        .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return None;
    }
    Some(s)
}

fn plain(status: StatusCode, body: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

fn with_headers(status: StatusCode, mime: &str, body: Vec<u8>, head: bool, app: &App) -> Response {
    let issuer_origin = openidconnect::url::Url::parse(&app.config.issuer)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let csp = [
        "default-src 'self'".to_string(),
        "script-src 'self' 'wasm-unsafe-eval'".into(),
        "style-src 'self' 'unsafe-inline'".into(),
        format!("connect-src 'self' {issuer_origin}"),
        "img-src * data:".into(),
        format!("frame-src {issuer_origin}"),
        "object-src 'none'".into(),
        "base-uri 'none'".into(),
        "frame-ancestors 'none'".into(),
    ]
    .join("; ");
    let len = body.len();
    let mut r = if head {
        (status, Vec::new()).into_response()
    } else {
        (status, body).into_response()
    };
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_str(mime).unwrap());
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::decode_path;

    #[test]
    fn traversal_is_refused() {
        assert_eq!(decode_path("/a/b.js").as_deref(), Some("/a/b.js"));
        assert_eq!(decode_path("/a%20b").as_deref(), Some("/a b"));
        for bad in [
            "/../x",
            "/a/%2e%2e/x",
            "/a\\b",
            "/%5c..",
            "/a/./b",
            "/%00",
            "/%zz",
        ] {
            assert_eq!(decode_path(bad), None, "{bad}");
        }
    }
}

//! Sending one request hop by hop, the same way on both of the client's paths:
//! credentials written into the URL (`https://user:pass@host`) become a Basic
//! `authorization` header instead of going on the wire in the authority, and
//! redirects are followed (up to [`MAX_REDIRECTS`]; method and body kept, since a
//! chat request turned into a `GET` only fails; credentials dropped when a redirect
//! leaves the provider's host; never from HTTPS down to HTTP).
//!
//! reqwest's own policy would turn a `POST` into a `GET` on 301 and 302 and keep
//! `x-api-key` / `x-goog-api-key` on another host, so the proxied path sends single
//! hops too and this loop decides what follows.

use super::SendError;
use base64::Engine;
use http::header::{HeaderValue, AUTHORIZATION, HOST, LOCATION};
use http::{HeaderMap, Request, Response, StatusCode, Uri};
use std::future::Future;

/// Most redirects followed for one request (as reqwest and browsers).
pub(super) const MAX_REDIRECTS: usize = 10;
/// Headers that carry a credential: not sent on to another host.
const CREDENTIAL_HEADERS: [&str; 5] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
    "x-goog-api-key",
];

/// Sends `request` with `hop` (one HTTP exchange, no redirects of its own) and
/// follows the redirects it answers with.
pub(super) async fn follow<Body: Clone, B, Hop, Sent>(
    request: Request<Body>,
    mut hop: Hop,
) -> Result<Response<B>, SendError>
where
    Hop: FnMut(Request<Body>) -> Sent,
    Sent: Future<Output = Result<Response<B>, SendError>>,
{
    let (parts, body) = request.into_parts();
    let mut headers = parts.headers;
    let mut uri = parts.uri;
    if let Some((bare, credentials)) = split_userinfo(&uri) {
        uri = bare;
        headers.entry(AUTHORIZATION).or_insert(credentials);
    }
    let mut hops = 0;
    loop {
        let mut outbound = Request::new(body.clone());
        *outbound.method_mut() = parts.method.clone();
        *outbound.uri_mut() = uri.clone();
        // Kept for a redirect; a handful of headers, cheap next to the request.
        *outbound.headers_mut() = headers.clone();
        let response = hop(outbound).await?;
        let Some(next) = redirect_target(&uri, response.status(), response.headers()) else {
            return Ok(response);
        };
        if hops == MAX_REDIRECTS {
            return Ok(response);
        }
        hops += 1;
        if next.authority() != uri.authority() {
            drop_credentials(&mut headers);
        }
        // The first hop's Host came with the request; the next may be on another host
        // or scheme.
        match super::plain_http_host_header(&next) {
            Some(host) => headers.insert(HOST, host),
            None => headers.remove(HOST),
        };
        uri = next;
    }
}

/// Where a redirect answer points, when it is one to follow.
fn redirect_target(current: &Uri, status: StatusCode, headers: &HeaderMap) -> Option<Uri> {
    if !matches!(status.as_u16(), 301 | 302 | 307 | 308) {
        return None;
    }
    let location = headers.get(LOCATION)?.to_str().ok()?;
    let base = url::Url::parse(&current.to_string()).ok()?;
    let next = base.join(location).ok()?;
    if base.scheme() == "https" && next.scheme() != "https" {
        return None;
    }
    super::parse_url(next.as_str())
}

fn drop_credentials(headers: &mut HeaderMap) {
    for name in CREDENTIAL_HEADERS {
        headers.remove(name);
    }
}

/// `uri` without its `user:password@`, and those as a Basic `authorization` value.
fn split_userinfo(uri: &Uri) -> Option<(Uri, HeaderValue)> {
    let authority = uri.authority()?.as_str();
    let (userinfo, host) = authority.rsplit_once('@')?;
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let token = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        decode(user),
        decode(password)
    ));
    let mut value = HeaderValue::try_from(format!("Basic {token}")).ok()?;
    value.set_sensitive(true);
    let mut parts = uri.clone().into_parts();
    parts.authority = Some(host.parse().ok()?);
    Some((Uri::from_parts(parts).ok()?, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_the_url_become_a_basic_header() {
        let uri: Uri = "https://ana:p%40ss@llm.example:8443/v1/chat/completions"
            .parse()
            .expect("uri");
        let (bare, value) = split_userinfo(&uri).expect("has userinfo");
        assert_eq!(
            bare.to_string(),
            "https://llm.example:8443/v1/chat/completions"
        );
        // base64("ana:p@ss")
        assert_eq!(value, "Basic YW5hOnBAc3M=");
        assert!(value.is_sensitive());
        let plain: Uri = "https://llm.example/v1".parse().expect("uri");
        assert!(split_userinfo(&plain).is_none());
    }

    #[test]
    fn only_redirects_that_keep_the_request_safe_are_followed() {
        let here: Uri = "https://a.example/v1/chat/completions"
            .parse()
            .expect("uri");
        let at = |status: u16, location: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(LOCATION, HeaderValue::from_str(location).expect("value"));
            redirect_target(
                &here,
                StatusCode::from_u16(status).expect("status"),
                &headers,
            )
            .map(|u| u.to_string())
        };
        assert_eq!(
            at(308, "/v2/chat/completions").as_deref(),
            Some("https://a.example/v2/chat/completions")
        );
        assert_eq!(
            at(301, "https://b.example/x").as_deref(),
            Some("https://b.example/x")
        );
        assert_eq!(at(307, "http://a.example/v1"), None, "no downgrade to HTTP");
        assert_eq!(at(303, "/other"), None, "303 means GET something else");
        assert_eq!(at(200, "/v2"), None);
    }
}

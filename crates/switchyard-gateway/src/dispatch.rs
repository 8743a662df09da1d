//! The gateway's HTTP service: a request to a model endpoint goes straight to the
//! proxy; every other request goes through the router.
//!
//! The router matches the path, finds the method's handler, and boxes and maps its
//! future: skipping it saves about 2,300 instructions of the 78,500 a proxied
//! request cost the request workers (counted with `scripts/bench --only
//! instructions`). Model requests are nearly all of a gateway's traffic. The router
//! still serves the same paths (and answers other methods on them with 405), so the
//! two cannot disagree on what a model endpoint is.

use crate::providers::WireFormat;
use crate::proxy;
use crate::state::AppState;
use axum::body::Body;
use axum::response::Response;
use axum::Router;
use http::{Method, Request};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower_service::Service;

/// A request's answer in the making, from either path.
type Answer = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// Serves one gateway: clone it per connection.
#[derive(Clone)]
pub struct GatewayService {
    state: Arc<AppState>,
    router: Router,
}

impl GatewayService {
    pub fn new(state: Arc<AppState>, router: Router) -> GatewayService {
        GatewayService { state, router }
    }
}

/// The wire format of the model endpoint `request` is for, if it is for one.
fn model_endpoint<B>(request: &Request<B>) -> Option<WireFormat> {
    if request.method() != Method::POST {
        return None;
    }
    let path = request.uri().path();
    proxy::MODEL_ROUTES
        .iter()
        .find(|(route, _)| *route == path)
        .map(|&(_, api)| api)
}

impl<B> Service<Request<B>> for GatewayService
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Both paths are always ready: the router is, and says so in its docs, which
        // is also why `call` may skip asking it.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Answer {
        crate::workers::request_started();
        match model_endpoint(&request) {
            Some(api) => {
                let state = self.state.clone();
                Box::pin(async move { Ok(proxy::proxy(state, api, request.map(Body::new)).await) })
            }
            None => Box::pin(self.router.call(request)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, uri: &str) -> Request<()> {
        Request::builder().method(method).uri(uri).body(()).unwrap()
    }

    #[test]
    fn only_posts_to_the_model_paths_skip_the_router() {
        for (path, api) in proxy::MODEL_ROUTES {
            assert_eq!(model_endpoint(&request(Method::POST, path)), Some(api));
            let with_query = format!("{path}?x=1");
            assert_eq!(
                model_endpoint(&request(Method::POST, &with_query)),
                Some(api)
            );
            assert_eq!(model_endpoint(&request(Method::GET, path)), None);
            let trailing = format!("{path}/");
            assert_eq!(model_endpoint(&request(Method::POST, &trailing)), None);
        }
        for path in [
            "/v1/models",
            "/v1/messages/count_tokens",
            "/",
            "/ui/",
            "/admin/keys",
        ] {
            assert_eq!(model_endpoint(&request(Method::POST, path)), None, "{path}");
        }
    }
}

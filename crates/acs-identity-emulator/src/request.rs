//! One request, start to finish: the Host check, then either an
//! emulator-only endpoint ([`crate::control`]) or an operation of the
//! service ([`crate::gate`], then the route's handler), and the answer
//! with the caller's request id.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use hyper::body::Incoming;
use hyper::header::{CONNECTION, HeaderValue};
use hyper::{Request, Response};

use crate::api_error::ApiError;
use crate::gate::{self, Stopped};
use crate::response::{self, Reply};
use crate::state::Shared;

/// Handles one request.
pub async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Reply {
    let request_id = req.headers().get("x-ms-client-request-id").cloned();
    let mut reply = match answer(&shared, req).await {
        Ok(resp) => resp,
        Err(Stopped::Fault(Reply::Drop)) => return Reply::Drop,
        Err(Stopped::Fault(Reply::Send(resp))) => resp,
        Err(Stopped::Refused(e)) => refused(&shared, &e),
    };
    if let Some(id) = request_id {
        reply.headers_mut().insert("x-ms-client-request-id", id);
    }
    Reply::Send(reply)
}

async fn answer(
    shared: &Shared,
    req: Request<Incoming>,
) -> Result<Response<http_body_util::Full<bytes::Bytes>>, Stopped> {
    crate::host::check(req.version(), req.uri(), req.headers())?;
    if let Some(rest) = req
        .uri()
        .path()
        .strip_prefix("/_emulator")
        .filter(|rest| rest.is_empty() || rest.starts_with('/'))
    {
        let method = req.method().clone();
        let rest = rest.to_string();
        let (parts, incoming) = req.into_parts();
        let body = gate::read_body(&parts.headers, incoming, shared.body_timeout).await?;
        return Ok(crate::control::handle(shared, &method, &rest, &body)?);
    }
    shared.stats.requests.fetch_add(1, Ordering::Relaxed);
    let admitted = gate::admit(shared, req).await?;
    let ctx = admitted.ctx(shared);
    let (status, body) = (admitted.route.handler)(&ctx, &admitted.body)?;
    Ok(response::json(status, body.as_ref()))
}

/// The error answer; every 401, whichever check refused the request, is
/// counted here.
fn refused(shared: &Shared, e: &ApiError) -> Response<http_body_util::Full<bytes::Bytes>> {
    if e.status == 401 {
        shared.stats.unauthorized.fetch_add(1, Ordering::Relaxed);
    }
    let mut resp = response::error(e);
    // After a refused Host or an unfinished body the connection is not
    // reused.
    if matches!(
        e.code,
        "InvalidHostHeader" | "MisdirectedRequest" | "RequestTimeout"
    ) {
        resp.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

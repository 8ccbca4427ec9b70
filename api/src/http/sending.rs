//! The bytes of answers being sent, bounded in all.
//!
//! An answer is held in memory until its client has read its last byte, so clients that read
//! slowly (or not at all) can make the server hold many large answers at once. Every answer of
//! a known size above `COUNTED_FROM` takes its bytes from one budget for the whole server
//! while it is being sent and gives them back when sent (or dropped). An answer that finds no
//! room waits briefly, then gets a 503: the server is busy sending. The connection watchdog
//! (`server.rs`) drops clients that read below a floor rate, so the budget is not held for long
//! by clients that do not read.
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Answers smaller than this are not counted: they fit in the socket's buffers.
const COUNTED_FROM: u64 = 64 * 1024;
/// The budget is counted in units of this many bytes.
const UNIT: u64 = 1024;
/// A counted answer goes out in slices of this size: the HTTP layer takes the next only as it
/// sends the last, so the answer stays counted (and its client measured) until it is sent.
const SLICE: usize = 64 * 1024;
/// How long an answer waits for room in the budget before it is refused.
const WAIT: Duration = Duration::from_secs(2);

/// The budget of bytes of answers being sent.
#[derive(Clone)]
pub struct Sending {
    units: Arc<Semaphore>,
    capacity: u32,
}

impl Sending {
    pub fn new(bytes: u64) -> Self {
        let capacity = u32::try_from((bytes / UNIT).max(1)).unwrap_or(u32::MAX >> 4);
        Self {
            units: Arc::new(Semaphore::new(capacity as usize)),
            capacity,
        }
    }

    /// Bytes of answers being sent now.
    pub fn in_flight(&self) -> u64 {
        u64::from(self.capacity).saturating_sub(self.units.available_permits() as u64) * UNIT
    }
}

/// Counts each large answer against the budget while it is being sent.
pub async fn within_budget(
    State(sending): State<Sending>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    let Some(size) = http_body::Body::size_hint(response.body()).exact() else {
        // Streams (event streams, downloads made as they are read) hold only what is read.
        return response;
    };
    if size < COUNTED_FROM {
        return response;
    }
    // An answer larger than the whole budget takes all of it.
    let units = u32::try_from(size.div_ceil(UNIT))
        .unwrap_or(u32::MAX)
        .min(sending.capacity);
    match tokio::time::timeout(WAIT, sending.units.clone().acquire_many_owned(units)).await {
        Ok(Ok(permit)) => {
            metrics::gauge!("stroom_sending_bytes").set(sending.in_flight() as f64);
            response.map(|inner| {
                Body::new(Counted {
                    inner,
                    rest: axum::body::Bytes::new(),
                    permit: Some(permit),
                    sending,
                })
            })
        }
        _ => {
            metrics::counter!("stroom_answers_refused_total", "reason" => "sending").increment(1);
            busy()
        }
    }
}

fn busy() -> Response {
    let body = serde_json::json!({
        "errors": [{
            "message": "The server is busy sending other large answers; retry shortly.",
            "extensions": {"code": "SERVICE_UNAVAILABLE"}
        }]
    });
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [("retry-after", "2")],
        axum::Json(body),
    )
        .into_response()
}

/// An answer holding its share of the budget until it is sent or dropped.
struct Counted {
    inner: Body,
    /// What is left of the last frame of `inner`, handed out slice by slice.
    rest: axum::body::Bytes,
    permit: Option<OwnedSemaphorePermit>,
    sending: Sending,
}

impl Drop for Counted {
    fn drop(&mut self) {
        drop(self.permit.take());
        metrics::gauge!("stroom_sending_bytes").set(self.sending.in_flight() as f64);
    }
}

impl http_body::Body for Counted {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        if self.rest.is_empty() {
            match std::task::ready!(Pin::new(&mut self.inner).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => self.rest = data,
                    Err(frame) => return Poll::Ready(Some(Ok(frame))),
                },
                other => return Poll::Ready(other),
            }
        }
        let size = self.rest.len().min(SLICE);
        let slice = self.rest.split_to(size);
        Poll::Ready(Some(Ok(http_body::Frame::data(slice))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        let mut hint = self.inner.size_hint();
        let rest = self.rest.len() as u64;
        hint.set_lower(hint.lower() + rest);
        if let Some(upper) = hint.upper() {
            hint.set_upper(upper + rest);
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_in_units_and_never_more_than_it_has() {
        let sending = Sending::new(4 * 1024 * 1024);
        assert_eq!(sending.capacity, 4096);
        assert_eq!(sending.in_flight(), 0);
        let tiny = Sending::new(10);
        assert_eq!(tiny.capacity, 1);
    }
}

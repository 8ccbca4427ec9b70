//! When to cut a DataLoader batch: once the request has registered every key it can.
//!
//! A time window (the loader's usual 1 ms) splits a batch whenever resolving one level of a
//! large query takes longer than the window — on a busy machine, or because the executor yields
//! every few dozen fields to stay cooperative — and the number of SQL statements then depends on
//! timing. Instead, each request's execution is tracked: a batch waits until the request is
//! waiting on something else (its future pending and not woken), so all keys of the wave are in.
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use tokio::sync::Notify;

#[derive(Default)]
struct State {
    polling: AtomicBool,
    woken: AtomicBool,
    done: AtomicBool,
    settled: Notify,
}

impl State {
    fn is_settled(&self) -> bool {
        self.done.load(Ordering::SeqCst)
            || (!self.polling.load(Ordering::SeqCst) && !self.woken.load(Ordering::SeqCst))
    }
}

/// The activity of one request's execution.
#[derive(Clone, Default)]
pub struct Activity(Arc<State>);

impl Activity {
    /// Wraps the request's execution so its activity can be observed.
    pub fn track<F: Future + Send + 'static>(&self, future: F) -> Tracked<F::Output> {
        Tracked {
            inner: Box::pin(future),
            state: self.0.clone(),
        }
    }

    /// Completes once the tracked execution is waiting on something else, or has finished.
    pub async fn settled(&self) {
        loop {
            let notified = self.0.settled.notified();
            tokio::pin!(notified);
            // Register before checking, so a notification in between is not missed.
            notified.as_mut().enable();
            if self.0.is_settled() {
                return;
            }
            notified.await;
        }
    }
}

pub struct Tracked<T> {
    inner: Pin<Box<dyn Future<Output = T> + Send>>,
    state: Arc<State>,
}

struct TrackingWaker {
    inner: Waker,
    state: Arc<State>,
}

impl Wake for TrackingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.state.woken.store(true, Ordering::SeqCst);
        self.inner.wake_by_ref();
    }
}

impl<T> Future for Tracked<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let state = self.state.clone();
        state.polling.store(true, Ordering::SeqCst);
        state.woken.store(false, Ordering::SeqCst);
        let waker = Waker::from(Arc::new(TrackingWaker {
            inner: cx.waker().clone(),
            state: state.clone(),
        }));
        let result = self.inner.as_mut().poll(&mut Context::from_waker(&waker));
        state.polling.store(false, Ordering::SeqCst);
        if result.is_ready() {
            state.done.store(true, Ordering::SeqCst);
        }
        if state.is_settled() {
            state.settled.notify_waiters();
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn settles_only_when_the_work_waits() {
        let activity = Activity::default();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let work = activity.track(async move {
            // Busy for a while, yielding like a cooperative executor does.
            for _ in 0..50 {
                tokio::task::yield_now().await;
            }
            let _ = rx.await;
        });
        let handle = tokio::spawn(work);
        activity.settled().await;
        // Settled means: waiting on the channel, not in the middle of its yields.
        assert!(!handle.is_finished());
        tx.send(()).ok();
        handle.await.unwrap();
        activity.settled().await;
    }
}

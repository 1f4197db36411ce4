//! One task per HTTP/2 connection.
//!
//! hyper's HTTP/2 client hands futures to an executor: the connection's
//! driver once, then for every request one that waits for its response and
//! passes it on (and one per streamed request body). With a runtime's
//! spawner each of those is a task of its own: a spawn per request, and a
//! response goes from the connection's task to the waiting task to the
//! caller's task, two wake-ups, often from one worker thread to the other.
//!
//! [`InlineExec`] instead queues them for [`Driver`], the connection's only
//! task, which polls them itself beside hyper's dispatcher: the driver's
//! reads make the waiting futures ready, and they are polled in the same
//! turn, so a response wakes only its caller.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_util::stream::{FuturesUnordered, StreamExt};
use futures_util::task::AtomicWaker;

type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What an [`InlineExec`] and its [`Driver`] share.
#[derive(Default)]
struct Queue {
    tasks: Mutex<Vec<Task>>,
    /// The driver's waker, for futures handed over outside its poll.
    driver: AtomicWaker,
}

/// hyper's executor for one HTTP/2 connection: queues futures for the
/// connection's [`Driver`] instead of spawning them.
#[derive(Clone, Default)]
pub(crate) struct InlineExec {
    queue: Arc<Queue>,
}

impl std::fmt::Debug for InlineExec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InlineExec")
    }
}

impl<F> hyper::rt::Executor<F> for InlineExec
where
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, fut: F) {
        self.queue
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::pin(fut));
        self.queue.driver.wake();
    }
}

/// The one task of an HTTP/2 connection: hyper's dispatcher (`conn`, the
/// `Connection` of its handshake) and every future hyper handed to the
/// [`InlineExec`] (the connection's driver, response waiters, body pipes).
/// Ends when all of them have.
pub(crate) struct Driver<C> {
    conn: Option<Pin<Box<C>>>,
    queue: Arc<Queue>,
    running: FuturesUnordered<Task>,
}

impl<C> Driver<C> {
    pub(crate) fn new(conn: C, exec: &InlineExec) -> Driver<C> {
        Driver {
            conn: Some(Box::pin(conn)),
            queue: exec.queue.clone(),
            running: FuturesUnordered::new(),
        }
    }

    /// Moves what was queued into the running set; whether there was any.
    fn take_queued(&mut self) -> bool {
        let mut queued = self.queue.tasks.lock().unwrap_or_else(|e| e.into_inner());
        let any = !queued.is_empty();
        self.running.extend(queued.drain(..));
        any
    }
}

impl<C, E> Future for Driver<C>
where
    C: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        this.queue.driver.register(cx.waker());
        loop {
            if let Some(conn) = this.conn.as_mut() {
                if let Poll::Ready(result) = conn.as_mut().poll(cx) {
                    if let Err(e) = result {
                        tracing::debug!("HTTP/2 connection ended: {e}");
                    }
                    this.conn = None;
                }
            }
            this.take_queued();
            // Each ready future is polled; `None` when none is left.
            while let Poll::Ready(Some(())) = this.running.poll_next_unpin(cx) {}
            // Futures polled just now may have handed over more.
            if !this.take_queued() {
                break;
            }
        }
        if this.conn.is_none() && this.running.is_empty() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::rt::Executor;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn runs_what_is_queued_before_and_while_it_runs() {
        let exec = InlineExec::default();
        let done = Arc::new(AtomicUsize::new(0));
        // Handed over before the driver exists (hyper's handshake does).
        let d = done.clone();
        exec.execute(async move {
            d.fetch_add(1, Ordering::SeqCst);
        });
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let inner = exec.clone();
        let d = done.clone();
        // The "dispatcher": hands over a future that waits, then ends.
        let conn = async move {
            let d2 = d.clone();
            inner.execute(async move {
                let _ = rx.await;
                d2.fetch_add(1, Ordering::SeqCst);
            });
            Ok::<(), std::convert::Infallible>(())
        };
        let driver = tokio::spawn(Driver::new(conn, &exec));
        tokio::task::yield_now().await;
        assert_eq!(done.load(Ordering::SeqCst), 1);
        assert!(!driver.is_finished(), "a queued future is still waiting");
        tx.send(()).unwrap();
        driver.await.unwrap();
        assert_eq!(done.load(Ordering::SeqCst), 2);
    }
}

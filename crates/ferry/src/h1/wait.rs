//! How long an exchange's reads and writes may wait: the request's total
//! [`Deadline`], the read timeout, and the two together as a [`Wait`].

use std::future::Future;
use std::io;
use std::time::{Duration, Instant};

use crate::error::TimeoutPhase;

/// A request's total timeout: when it runs out, and how long it was.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    pub(crate) at: Instant,
    pub(crate) total: Duration,
}

impl Deadline {
    /// The deadline `total` from now.
    pub(crate) fn after(total: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + total,
            total,
        }
    }
}

/// How long reads and writes may wait: the read timeout bounds each wait
/// without progress, the deadline all of them together. Both hold at once,
/// so that a peer reading slowly but steadily cannot stretch a request past
/// its deadline, nor a long request's wait past the read timeout.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wait {
    pub(crate) read: Option<Duration>,
    pub(crate) deadline: Option<Deadline>,
}

/// How close to the deadline a wait must end to count as the total timeout
/// running out, not the read timeout: socket timeouts count in the
/// kernel's ticks (4 ms at 250 Hz), and may end up to one tick early.
const DEADLINE_SLACK: Duration = Duration::from_millis(10);

impl Wait {
    pub(crate) fn new(read: Option<Duration>, deadline: Option<Deadline>) -> Wait {
        Wait { read, deadline }
    }

    /// The limit on a wait without progress, for a write that may take
    /// longer as a whole: the read timeout.
    pub(crate) fn stall(&self) -> Option<Duration> {
        self.read
    }

    /// How long the next read or write may wait: the tighter of the read
    /// timeout and what is left before the deadline now.
    pub(crate) fn left(&self) -> Option<Duration> {
        let left = self
            .deadline
            .map(|d| d.at.saturating_duration_since(Instant::now()));
        match (self.read, left) {
            (Some(r), Some(l)) => Some(r.min(l)),
            (r, l) => r.or(l),
        }
    }

    /// Whether there is no limit at all (no read timeout, no deadline).
    pub(crate) fn unbounded(&self) -> bool {
        self.read.is_none() && self.deadline.is_none()
    }

    /// Whether the deadline has passed at `now`.
    pub(crate) fn passed(&self, now: Instant) -> bool {
        self.deadline.is_some_and(|d| now >= d.at)
    }

    /// Which limit a wait that timed out ran into, and how long it was; none
    /// when there was no limit (the timeout was not ferry's).
    pub(crate) fn expired(&self) -> Option<(TimeoutPhase, Duration)> {
        let total = self.deadline.map(|d| (TimeoutPhase::Total, d.total));
        let read = self.read.map(|r| (TimeoutPhase::Read, r));
        match self.deadline {
            Some(d) if Instant::now() + DEADLINE_SLACK >= d.at => total,
            _ => read.or(total),
        }
    }
}

/// `op`, failing with `TimedOut` once `wait`'s limit has passed.
pub(super) async fn within<T>(
    wait: Wait,
    op: impl Future<Output = io::Result<T>>,
) -> io::Result<T> {
    bounded(wait, op)
        .await
        .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
}

/// `op`, or which of `wait`'s limits ran out first, and how long it was.
pub(crate) async fn bounded<F: Future>(
    wait: Wait,
    op: F,
) -> Result<F::Output, (TimeoutPhase, Duration)> {
    match wait.left() {
        None => Ok(op.await),
        Some(limit) => match tokio::time::timeout(limit, op).await {
            Ok(done) => Ok(done),
            // (A limit was set, so one of them ran out.)
            Err(_) => Err(wait.expired().unwrap_or((TimeoutPhase::Read, limit))),
        },
    }
}

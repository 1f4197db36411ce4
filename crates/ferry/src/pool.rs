//! The connection pool, keyed by the whole route ([`PoolKey`]).
//!
//! HTTP/1.1 connections are lent out one request at a time and come back when
//! the response body has been read to its end; HTTP/2 connections stay in
//! the pool and are shared by concurrent requests. The lock is a plain mutex
//! held for a few pointer moves, never across an `.await`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::client::conn::{http1, http2};

use crate::body::Body;
use crate::connect::ConnInfo;
use crate::h1::SyncConn;
use crate::route::PoolKey;

/// The sending half of one HTTP connection.
pub(crate) enum Sender {
    H1(http1::SendRequest<Body>),
    H2(http2::SendRequest<Body>),
    /// The blocking client's HTTP/1.1 ([`crate::h1`]); `None` while a
    /// response body holds the connection, or once it cannot be reused.
    Sync(Option<Box<SyncConn>>),
}

impl Sender {
    fn is_closed(&self) -> bool {
        match self {
            Sender::H1(s) => s.is_closed(),
            Sender::H2(s) => s.is_closed(),
            Sender::Sync(c) => c.is_none(),
        }
    }
}

/// A connection and what is known about how it was made.
pub(crate) struct Conn {
    pub(crate) sender: Sender,
    pub(crate) info: Arc<ConnInfo>,
    pub(crate) id: u64,
    /// The runtime whose tasks drive a hyper connection: a blocking client
    /// has one runtime per thread, and a connection is only usable from
    /// the runtime that runs its task. `None` for blocking connections.
    runtime: Option<tokio::runtime::Id>,
}

impl Conn {
    pub(crate) fn new(sender: Sender, info: ConnInfo) -> Conn {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let runtime = match sender {
            Sender::Sync(_) => None,
            _ => tokio::runtime::Handle::try_current().ok().map(|h| h.id()),
        };
        Conn {
            sender,
            info: Arc::new(info),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            runtime,
        }
    }

    /// Another handle on a shared (HTTP/2) connection.
    pub(crate) fn share(&self) -> Option<Conn> {
        match &self.sender {
            Sender::H2(s) => Some(Conn {
                sender: Sender::H2(s.clone()),
                info: self.info.clone(),
                id: self.id,
                runtime: self.runtime,
            }),
            Sender::H1(_) | Sender::Sync(_) => None,
        }
    }
}

/// Pool limits.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PoolConfig {
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) max_idle_per_key: usize,
}

impl Default for PoolConfig {
    fn default() -> PoolConfig {
        PoolConfig {
            idle_timeout: Some(Duration::from_secs(90)),
            max_idle_per_key: usize::MAX,
        }
    }
}

struct Idle {
    conn: Conn,
    since: Instant,
}

pub(crate) struct Pool {
    config: PoolConfig,
    // foldhash: keys are hashed on every check-out and check-in, and SipHash
    // was a visible part of the per-request cost; foldhash is seeded per
    // process, so keys from URLs cannot be aimed at collisions cheaply.
    idle: Mutex<HashMap<PoolKey, Vec<Idle>, foldhash::fast::RandomState>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = self.idle.lock().map(|m| m.len()).unwrap_or(0);
        f.debug_struct("Pool")
            .field("config", &self.config)
            .field("keys", &keys)
            .finish()
    }
}

impl Pool {
    pub(crate) fn new(config: PoolConfig) -> Pool {
        Pool {
            config,
            idle: Mutex::new(HashMap::default()),
        }
    }

    fn expired(&self, idle: &Idle, now: Instant) -> bool {
        idle.conn.sender.is_closed()
            || self
                .config
                .idle_timeout
                .is_some_and(|t| now.duration_since(idle.since) > t)
    }

    /// A connection for `key`: the most recently used live HTTP/1.1 one (taken
    /// out), or a shared HTTP/2 one; hyper connections only from the
    /// runtime that drives them.
    pub(crate) fn checkout(&self, key: &PoolKey) -> Option<Conn> {
        let now = Instant::now();
        let mut here = None;
        let mut map = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let list = map.get_mut(key)?;
        // An emptied list stays in the map: the connection usually comes
        // back at once, and re-inserting would clone the key every time.
        let mut i = list.len();
        while i > 0 {
            i -= 1;
            if self.expired(&list[i], now) {
                list.remove(i);
                continue;
            }
            if let Some(id) = list[i].conn.runtime {
                let here = *here.get_or_insert_with(|| {
                    tokio::runtime::Handle::try_current().ok().map(|h| h.id())
                });
                if here != Some(id) {
                    continue;
                }
            }
            if let Some(shared) = list[i].conn.share() {
                return Some(shared);
            }
            return Some(list.remove(i).conn);
        }
        None
    }

    /// Gives an HTTP/1.1 connection back, or registers a new HTTP/2 one so
    /// that other requests can share it.
    pub(crate) fn checkin(&self, key: &PoolKey, conn: Conn) {
        if conn.sender.is_closed() || self.config.max_idle_per_key == 0 {
            return;
        }
        let now = Instant::now();
        let mut map = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let list = match map.get_mut(key) {
            Some(list) => list,
            None => map.entry(key.clone()).or_default(),
        };
        // Drop what has expired while we are here, so idle lists of keys that
        // are used again never grow stale.
        list.retain(|i| !self.expired(i, now));
        if list.len() >= self.config.max_idle_per_key {
            list.remove(0);
        }
        list.push(Idle { conn, since: now });
    }

    /// Forgets a shared HTTP/2 connection that has failed.
    pub(crate) fn remove(&self, key: &PoolKey, id: u64) {
        let mut map = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(list) = map.get_mut(key) {
            list.retain(|i| i.conn.id != id);
            if list.is_empty() {
                map.remove(key);
            }
        }
    }

    /// Idle (and shared HTTP/2) connections held, over all keys.
    pub(crate) fn idle_count(&self) -> usize {
        let map = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        map.values().map(Vec::len).sum()
    }
}

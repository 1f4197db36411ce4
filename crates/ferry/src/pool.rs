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

use hyper::client::conn::http2;

use crate::body::Body;
use crate::connect::ConnInfo;
use crate::h1::H1Conn;
use crate::route::PoolKey;

/// The sending half of one HTTP connection.
pub(crate) enum Sender {
    /// ferry's own HTTP/1.1 ([`crate::h1`]); `None` while a response body
    /// holds the connection, or once it cannot be reused.
    H1(Option<Box<H1Conn>>),
    /// hyper's HTTP/2, driven by a task of its own.
    H2(http2::SendRequest<Body>),
}

impl Sender {
    fn is_closed(&self) -> bool {
        match self {
            Sender::H1(c) => c.is_none(),
            Sender::H2(s) => s.is_closed(),
        }
    }
}

/// A connection and what is known about how it was made.
pub(crate) struct Conn {
    pub(crate) sender: Sender,
    pub(crate) info: Arc<ConnInfo>,
    pub(crate) id: u64,
    /// The runtime whose reactor an async connection is registered with
    /// (and, for HTTP/2, whose task drives it): a blocking client has one
    /// runtime per thread, and such a connection is only lent to requests
    /// on that runtime. `None` for connections driven by blocking calls.
    runtime: Option<tokio::runtime::Id>,
}

impl Conn {
    pub(crate) fn new(sender: Sender, info: ConnInfo) -> Conn {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let runtime = match &sender {
            Sender::H1(Some(c)) if c.is_blocking() => None,
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
            Sender::H1(_) => None,
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
    idle: Mutex<Idles>,
}

struct Idles {
    /// The connection given back last, outside the map: a client that
    /// sends one request after another on one route takes back the
    /// connection it just returned, and finds it here by comparing keys
    /// (shared `Arc`s: pointer comparisons) instead of hashing one twice
    /// per request. It counts as one of its key's idle connections.
    hot: Option<(PoolKey, Idle)>,
    // foldhash: keys are hashed on every check-out and check-in that misses
    // `hot`, on the path of every request, and SipHash is slower for such
    // short keys; foldhash is seeded per process, so keys from URLs cannot
    // be aimed at collisions cheaply.
    map: HashMap<PoolKey, Vec<Idle>, foldhash::fast::RandomState>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = self.idle.lock().map(|i| i.map.len()).unwrap_or(0);
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
            idle: Mutex::new(Idles {
                hot: None,
                map: HashMap::default(),
            }),
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
    /// out), or a shared HTTP/2 one; async connections only to requests on
    /// the runtime they belong to. `now` is the caller's clock reading (the
    /// request's start: one reading fewer per request).
    pub(crate) fn checkout(&self, key: &PoolKey, now: Instant) -> Option<Conn> {
        let mut here = None;
        let mut usable = |idle: &Idle| match idle.conn.runtime {
            None => true,
            Some(id) => {
                *here.get_or_insert_with(|| {
                    tokio::runtime::Handle::try_current().ok().map(|h| h.id())
                }) == Some(id)
            }
        };
        let mut idles = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((hot_key, idle)) = &idles.hot {
            if hot_key == key {
                if self.expired(idle, now) {
                    idles.hot = None;
                } else if usable(idle) {
                    if let Some(shared) = idle.conn.share() {
                        return Some(shared);
                    }
                    return idles.hot.take().map(|(_, idle)| idle.conn);
                }
            }
        }
        let list = idles.map.get_mut(key)?;
        // An emptied list stays in the map: the connection usually comes
        // back at once, and re-inserting would clone the key every time.
        let mut i = list.len();
        while i > 0 {
            i -= 1;
            if self.expired(&list[i], now) {
                list.remove(i);
                continue;
            }
            if !usable(&list[i]) {
                continue;
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
    pub(crate) fn checkin(&self, key: PoolKey, conn: Conn) {
        if conn.sender.is_closed() || self.config.max_idle_per_key == 0 {
            return;
        }
        let now = Instant::now();
        let mut idles = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let idles = &mut *idles;
        let idle = Idle { conn, since: now };
        // The one given back before goes to the map; this one is hot.
        if let Some((hot_key, hot)) = idles.hot.take() {
            self.file(&mut idles.map, hot_key, hot, now);
        }
        // Room for this one among its key's idle connections (nothing to
        // look up while the map is empty: one route used sequentially).
        if !idles.map.is_empty() {
            if let Some(list) = idles.map.get_mut(&key) {
                while !list.is_empty() && list.len() >= self.config.max_idle_per_key {
                    list.remove(0);
                }
            }
        }
        idles.hot = Some((key, idle));
    }

    /// Puts `idle` in `key`'s list, within the limit.
    fn file(
        &self,
        map: &mut HashMap<PoolKey, Vec<Idle>, foldhash::fast::RandomState>,
        key: PoolKey,
        idle: Idle,
        now: Instant,
    ) {
        let list = map.entry(key).or_default();
        // Drop what has expired while we are here, so idle lists of keys that
        // are used again never grow stale.
        list.retain(|i| !self.expired(i, now));
        while !list.is_empty() && list.len() >= self.config.max_idle_per_key {
            list.remove(0);
        }
        list.push(idle);
    }

    /// Forgets a shared HTTP/2 connection that has failed.
    pub(crate) fn remove(&self, key: &PoolKey, id: u64) {
        let mut idles = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idles
            .hot
            .as_ref()
            .is_some_and(|(k, i)| k == key && i.conn.id == id)
        {
            idles.hot = None;
        }
        if let Some(list) = idles.map.get_mut(key) {
            list.retain(|i| i.conn.id != id);
            if list.is_empty() {
                idles.map.remove(key);
            }
        }
    }

    /// Idle (and shared HTTP/2) connections held, over all keys.
    pub(crate) fn idle_count(&self) -> usize {
        let idles = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idles.map.values().map(Vec::len).sum::<usize>() + usize::from(idles.hot.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::Target;

    /// A live blocking HTTP/1.1 connection (to a listener nobody serves).
    fn conn(listener: &std::net::TcpListener) -> Conn {
        let stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let h1 = H1Conn::blocking(Box::new(stream));
        Conn::new(Sender::H1(Some(Box::new(h1))), ConnInfo::default())
    }

    fn key(url: &str) -> PoolKey {
        PoolKey::Direct(Target::from_url(&url.parse().unwrap()).unwrap())
    }

    fn pool(max_idle_per_key: usize, idle_timeout: Option<Duration>) -> Pool {
        Pool::new(PoolConfig {
            idle_timeout,
            max_idle_per_key,
        })
    }

    #[test]
    fn one_route_in_turn_and_two_interleaved() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let pool = pool(usize::MAX, None);
        let (a, b) = (key("http://a.test/"), key("http://b.test/"));
        pool.checkin(a.clone(), conn(&listener));
        assert_eq!(pool.idle_count(), 1);
        let first = pool.checkout(&a, Instant::now()).unwrap();
        assert!(pool.checkout(&a, Instant::now()).is_none());
        assert!(pool.checkout(&b, Instant::now()).is_none());
        pool.checkin(a.clone(), first);
        pool.checkin(b.clone(), conn(&listener));
        pool.checkin(a.clone(), conn(&listener));
        assert_eq!(pool.idle_count(), 3);
        assert!(pool.checkout(&b, Instant::now()).is_some());
        assert!(pool.checkout(&b, Instant::now()).is_none());
        assert!(pool.checkout(&a, Instant::now()).is_some());
        assert!(pool.checkout(&a, Instant::now()).is_some());
        assert!(pool.checkout(&a, Instant::now()).is_none());
        assert_eq!(pool.idle_count(), 0);
    }

    #[test]
    fn the_limit_per_key_counts_the_hot_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        for max in [1, 2, 3] {
            let pool = pool(max, None);
            let a = key("http://a.test/");
            let conns: Vec<Conn> = (0..5).map(|_| conn(&listener)).collect();
            let ids: Vec<u64> = conns.iter().map(|c| c.id).collect();
            for c in conns {
                pool.checkin(a.clone(), c);
            }
            assert_eq!(pool.idle_count(), max);
            // The most recent ones are kept, newest first out.
            for want in ids.iter().rev().take(max) {
                assert_eq!(pool.checkout(&a, Instant::now()).unwrap().id, *want);
            }
            assert!(pool.checkout(&a, Instant::now()).is_none());
        }
        let none = pool(0, None);
        none.checkin(key("http://a.test/"), conn(&listener));
        assert_eq!(none.idle_count(), 0);
    }

    #[test]
    fn expired_connections_are_not_lent() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let pool = pool(usize::MAX, Some(Duration::from_millis(1)));
        let (a, b) = (key("http://a.test/"), key("http://b.test/"));
        pool.checkin(a.clone(), conn(&listener));
        pool.checkin(b.clone(), conn(&listener));
        std::thread::sleep(Duration::from_millis(20));
        assert!(pool.checkout(&a, Instant::now()).is_none());
        assert!(pool.checkout(&b, Instant::now()).is_none());
    }
}

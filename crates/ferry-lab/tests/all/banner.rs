//! The banner server: speaks first, then echoes; stops on drop.

use ferry_lab::Banner;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn banner_then_echo_then_close() {
    let banner = Banner::start("SSH-2.0-ferry-lab\r\n").await;
    assert!(banner.addr().ip().is_loopback());
    let mut c = Raw::connect(banner.addr()).await;
    assert_eq!(c.take(19).await, b"SSH-2.0-ferry-lab\r\n");
    c.send("one two").await;
    assert_eq!(c.take(7).await, b"one two");
    c.io.shutdown().await.unwrap();
    assert_eq!(c.read_to_close().await, b"");
    assert_eq!(banner.connections(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn banner_drop_refuses_connections() {
    let banner = Banner::start(vec![1u8, 2, 3]).await;
    let addr = banner.addr();
    drop(banner);
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn banner_ipv6() {
    if !ipv6_available() {
        return;
    }
    let banner = Banner::try_start("hi", true).await.unwrap();
    assert!(banner.addr().is_ipv6());
    let mut c = Raw::connect(banner.addr()).await;
    assert_eq!(c.take(2).await, b"hi");
}

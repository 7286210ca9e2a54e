//! Subscription callbacks: the `GS1-Signature` HMAC-SHA256 (RFC 2104) and a minimal HTTP/1.1
//! POST over plain TCP.
//!
//! The standard makes webhook subscriptions mandatory and leaves the signature scheme to the
//! implementation; we sign the exact body bytes with HMAC-SHA256 keyed by the subscriber's
//! `signatureToken` and send `GS1-Signature: sha256=<lowercase hex>`. The client here speaks
//! only `http://` (no TLS stack in the tree, STYLE.md "keep the build lean"): deliveries to
//! `https://` destinations are refused at subscription time.

use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// HMAC-SHA256 of `message` under `key` (RFC 2104, block size 64).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// The `GS1-Signature` header value for a body.
pub fn signature(token: &str, body: &[u8]) -> String {
    format!("sha256={}", hex::encode(hmac_sha256(token.as_bytes(), body)))
}

/// Host, port and path of an `http://` URL; `None` for anything else.
pub fn parse_http_url(url: &str) -> Option<(String, u16, String)> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') || path.contains([' ', '\r', '\n']) {
        return None;
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (h.to_owned(), p.parse().ok()?),
        _ => (authority.to_owned(), 80),
    };
    Some((host, port, path.to_owned()))
}

/// POSTs `body` to `url` (blocking; call from `spawn_blocking`). `Ok(status)` when the server
/// answered.
pub fn post(url: &str, body: &[u8], content_type: &str, signature: Option<&str>) -> std::io::Result<u16> {
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("not an http:// URL: {url}"));
    let (host, port, path) = parse_http_url(url).ok_or_else(bad)?;
    let addr = (host.trim_start_matches('[').trim_end_matches(']'), port).to_socket_addrs()?.next().ok_or_else(bad)?;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         GS1-EPCIS-Version: 2.0.0\r\nGS1-CBV-Version: 2.0.0\r\nConnection: close\r\n",
        body.len()
    );
    if let Some(sig) = signature {
        head.push_str(&format!("GS1-Signature: {sig}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf)?;
    let line = String::from_utf8_lossy(&buf[..n]);
    line.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "no HTTP status line"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_vectors() {
        // Test case 1.
        assert_eq!(
            hex::encode(hmac_sha256(&[0x0b; 20], b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        // Test case 2.
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block.
        assert_eq!(
            hex::encode(hmac_sha256(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn only_plain_http_urls_are_delivered_to() {
        assert_eq!(parse_http_url("http://127.0.0.1:9000/cb?x=1"), Some(("127.0.0.1".into(), 9000, "/cb?x=1".into())));
        assert_eq!(parse_http_url("http://example.com"), Some(("example.com".into(), 80, "/".into())));
        assert_eq!(parse_http_url("https://example.com/cb"), None);
        assert_eq!(parse_http_url("http://user@example.com/"), None);
    }
}

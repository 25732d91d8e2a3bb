//! Response compression: gzip or br when the client asks for it by `Accept-Encoding`, identity
//! when it does not, and the same bytes either way once decompressed.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Read;

use common::{req, start};

/// Undoes HTTP/1.1 chunked transfer coding (compressed bodies have no length up front).
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n").unwrap();
        let size_text = std::str::from_utf8(&body[..line_end]).unwrap();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        body = &body[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

/// Whether an answer's `Vary` names `Accept-Encoding`.
fn varies_by_encoding(headers: &[(String, String)]) -> bool {
    headers
        .iter()
        .any(|(k, v)| k == "vary" && v.to_ascii_lowercase().contains("accept-encoding"))
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli_decompressor::Decompressor::new(bytes, 4096)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[tokio::test]
async fn a_compressed_list_decompresses_to_exactly_the_uncompressed_body() {
    let s = start().await;
    let path = "/api/v1/genesis/skills?limit=1000";
    let plain = req("GET", path).send(&s).await;
    assert_eq!(plain.status, 200, "{}", plain.text());
    assert!(plain.body.len() > 1000, "a list long enough to shrink");

    for (encoding, decode) in [("gzip", gunzip as fn(&[u8]) -> Vec<u8>), ("br", unbrotli)] {
        let r = req("GET", path)
            .header("accept-encoding", encoding)
            .send(&s)
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-encoding"), Some(encoding));
        assert!(varies_by_encoding(&r.headers), "{:?}", r.headers);
        let compressed = dechunk(&r.body);
        assert_eq!(decode(&compressed), plain.body, "{encoding}");
        assert!(
            compressed.len() * 3 < plain.body.len(),
            "{encoding}: {} of {} bytes",
            compressed.len(),
            plain.body.len()
        );
    }
}

#[tokio::test]
async fn clients_without_accept_encoding_get_identity_with_a_length() {
    let s = start().await;
    let r = req("GET", "/api/v1/genesis/skills?limit=1000")
        .send(&s)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.header("transfer-encoding"), None);
    // The compression layer is skipped for them, but caches still learn the answer varies.
    assert!(varies_by_encoding(&r.headers), "{:?}", r.headers);
    assert_eq!(
        r.header("content-length")
            .map(|n| n.parse::<usize>().unwrap()),
        Some(r.body.len())
    );
    r.json();

    // An encoding the server does not offer is answered in identity too.
    let r = req("GET", "/api/v1/genesis/skills?limit=1000")
        .header("accept-encoding", "compress")
        .send(&s)
        .await;
    assert_eq!(r.header("content-encoding"), None);
    r.json();
}

#[tokio::test]
async fn answers_too_small_to_compress_do_not_vary_by_encoding() {
    let s = start().await;
    for encoding in [None, Some("gzip")] {
        let mut r = req("GET", "/health");
        if let Some(encoding) = encoding {
            r = r.header("accept-encoding", encoding);
        }
        let r = r.send(&s).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-encoding"), None, "{encoding:?}");
        assert!(
            !varies_by_encoding(&r.headers),
            "{encoding:?}: {:?}",
            r.headers
        );
    }
}

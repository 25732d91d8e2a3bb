//! Consistency tokens and conditional GETs, for every route at once.
//!
//! - Every response carries `X-Plant-Seq`: the seq of the audit chain the read model had folded
//!   when the request was read (for a write: once it was answered, so the token covers the
//!   write). With PostgreSQL the model is [`plant_core::read_model::ReadModelStore`]; with the
//!   in-memory store, the store itself.
//! - A request with `?min_seq=N` (or the header `X-Plant-Min-Seq: N`) is answered from a model
//!   at or past N: it waits up to `PLANT_MIN_SEQ_WAIT_MS` for the model to get there, else 503
//!   with `Retry-After` — never an older answer. A portal that wrote through one instance reads
//!   its write through any other by sending the write's `X-Plant-Seq`.
//! - `If-None-Match` on a GET whose 200 carries an `ETag` answers 304 with no body. Entities keep
//!   their strong `"v<version>"` tag (the one `If-Match` takes); lists and exports carry a weak
//!   tag made of the model's seq and the request's path and query ([`list_tag`]), which a
//!   handler can check before doing any work ([`list_tag_or_304`]).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use plant_core::store::Store;
use sha2::{Digest, Sha256};
use tokio::sync::{OnceCell, watch};

use crate::problem::ApiError;

/// The read model's seq on every response.
pub static SEQ_HEADER: HeaderName = HeaderName::from_static("x-plant-seq");
/// The seq a client needs the answer to include (as `?min_seq=`).
pub static MIN_SEQ_HEADER: HeaderName = HeaderName::from_static("x-plant-min-seq");

/// The read model's seq as this process sees it: the store's audit signal, which for the read
/// model is the seq it has folded, and for the in-memory store the head after each commit.
pub struct ModelSeq {
    store: Arc<dyn Store>,
    signal: OnceCell<Option<watch::Receiver<u64>>>,
}

impl std::fmt::Debug for ModelSeq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelSeq").finish_non_exhaustive()
    }
}

/// The model did not reach the seq a request asked for in time.
#[derive(Debug, thiserror::Error)]
#[error("the read model is at seq {at}, behind the min_seq {wanted} asked for")]
pub struct Behind {
    /// Where it is.
    pub at: u64,
    /// What was asked for.
    pub wanted: u64,
}

impl ModelSeq {
    /// The seq of `store`'s model.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            signal: OnceCell::new(),
        }
    }

    async fn receiver(&self) -> Option<watch::Receiver<u64>> {
        self.signal
            .get_or_init(|| async {
                match self.store.audit_signal().await {
                    Ok(signal) => signal,
                    Err(err) => {
                        tracing::warn!(error = %err, "no read-model seq: responses carry no X-Plant-Seq");
                        None
                    }
                }
            })
            .await
            .clone()
    }

    /// The [`plant_core::read_model::Ahead::digest`] of the model now: 0 unless it holds
    /// writes of this process past its seq.
    pub fn ahead(&self) -> u64 {
        self.store.ahead().digest
    }

    /// A write's consistency token: the seq now, or the newest seq this process has committed
    /// when that is higher (its model may hold its own writes ahead of its seq); `None` for a
    /// store that cannot say.
    pub async fn written(&self) -> Option<u64> {
        let committed = self.store.committed_seq();
        self.now().await.map(|seq| seq.max(committed))
    }

    /// The seq now; `None` for a store that cannot say.
    pub async fn now(&self) -> Option<u64> {
        // Once the signal is known (every request after the first), read it in place.
        if let Some(known) = self.signal.get() {
            return known.as_ref().map(|r| *r.borrow());
        }
        self.receiver().await.map(|r| *r.borrow())
    }

    /// Waits up to `wait` for the model to reach `wanted`; the seq it is at then.
    pub async fn reach(&self, wanted: u64, wait: Duration) -> Result<u64, Behind> {
        let Some(mut receiver) = self.receiver().await else {
            return Err(Behind { at: 0, wanted });
        };
        let reached = tokio::time::timeout(wait, receiver.wait_for(|s| *s >= wanted))
            .await
            .ok()
            .and_then(|r| r.ok().map(|at| *at));
        match reached {
            Some(at) => Ok(at),
            None => Err(Behind {
                at: *receiver.borrow(),
                wanted,
            }),
        }
    }
}

/// The `min_seq` a request asks for (query first, then header); 422 when it is not a number.
fn min_seq(request: &Request) -> Result<Option<u64>, ApiError> {
    let sent = form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes())
        .find(|(k, v)| k == "min_seq" && !v.is_empty());
    let text = match sent {
        Some((_, v)) => Some(v.into_owned()),
        None => request
            .headers()
            .get(&MIN_SEQ_HEADER)
            .map(|v| v.to_str().unwrap_or("").to_owned()),
    };
    text.map(|t| {
        t.trim()
            .parse::<u64>()
            .map_err(|_| ApiError::invalid_field("min_seq", "must be a seq (a whole number)"))
    })
    .transpose()
}

/// What [`Consistency::answer`] needs of a request, taken before the request is handed on:
/// `min_seq`, `X-Plant-Seq`, and 304 for a GET whose tag the client holds. The edge runs it
/// inside itself rather than as a layer of its own (one boxed future and one clone of the
/// stack fewer per request).
#[derive(Debug)]
pub struct Consistency {
    /// The seq the answer must include, if the client asked for one.
    pub wanted: Option<u64>,
    read: bool,
    if_none_match: Option<HeaderValue>,
}

impl Consistency {
    /// Reads `request`'s `min_seq` and conditions; 422 when `min_seq` is not a number.
    pub fn of(request: &Request) -> Result<Self, ApiError> {
        Ok(Self {
            wanted: min_seq(request)?,
            read: matches!(*request.method(), Method::GET | Method::HEAD),
            if_none_match: request.headers().get(header::IF_NONE_MATCH).cloned(),
        })
    }

    /// Waits up to `wait` for `model` to reach the wanted seq (503 when it does not in time);
    /// the seq the answer is read at. Call it before the handler runs.
    pub async fn before(&self, model: &ModelSeq, wait: Duration) -> Result<Option<u64>, Response> {
        match self.wanted {
            Some(wanted) => match model.reach(wanted, wait).await {
                Ok(at) => Ok(Some(at)),
                Err(behind) => {
                    tracing::info!(
                        at = behind.at,
                        wanted = behind.wanted,
                        "min_seq not reached in time"
                    );
                    Err(ApiError::ModelBehind {
                        at: behind.at,
                        wanted: behind.wanted,
                    }
                    .into_response())
                }
            },
            None => Ok(model.now().await),
        }
    }

    /// The handler's `response` with its consistency token, and 304 in place of a 200 whose
    /// tag the client holds. `before` is what [`Self::before`] gave.
    pub async fn answer(
        self,
        model: &ModelSeq,
        before: Option<u64>,
        mut response: Response,
    ) -> Response {
        let seq = if self.read {
            before
        } else {
            model.written().await
        };
        if let Some(seq) = seq {
            response
                .headers_mut()
                .entry(&SEQ_HEADER)
                .or_insert(HeaderValue::from(seq));
        }
        if !self.read || response.status() != StatusCode::OK {
            return response;
        }
        let Some(tag) = response.headers().get(header::ETAG).cloned() else {
            return response;
        };
        // A tagged answer may be kept and revalidated (the edge's default is `no-store`).
        response
            .headers_mut()
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-cache"));
        match self.if_none_match {
            Some(held) if matches_any(&held, &tag) => without_body(response.headers()),
            _ => response,
        }
    }
}

/// Whether an `If-None-Match` value names `tag` (weak comparison, as RFC 9110 asks for it).
pub fn matches_any(if_none_match: &HeaderValue, tag: &HeaderValue) -> bool {
    let (Ok(held), Ok(tag)) = (if_none_match.to_str(), tag.to_str()) else {
        return false;
    };
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let tag = opaque(tag);
    held.trim() == "*" || held.split(',').any(|h| opaque(h) == tag)
}

/// Whether the request holds `tag` already.
pub fn fresh(headers: &HeaderMap, tag: &HeaderValue) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|held| matches_any(held, tag))
}

/// 304 with the headers of the 200 it stands for that a cache needs, and no body.
fn without_body(headers: &HeaderMap) -> Response {
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    for name in [
        header::ETAG,
        header::CACHE_CONTROL,
        header::VARY,
        header::LINK,
        SEQ_HEADER.clone(),
    ] {
        if let Some(value) = headers.get(&name) {
            response.headers_mut().insert(name, value.clone());
        }
    }
    response
}

/// The tag of a list or export answered by the model at a seq.
#[derive(Debug, Clone)]
pub struct ListTag {
    /// The model's seq, read before the answer is.
    pub seq: u64,
    /// The entries its model held ahead of the seq ([`ModelSeq::ahead`]; 0: none), read with it.
    pub ahead: u64,
    /// SHA-256 of the path and the query less `min_seq` (and of this server's version): the
    /// same request at the same seq gives the same body.
    pub request: [u8; 32],
    /// The weak ETag: `W/"s<seq>-<the first 8 bytes of request, in hex>"`.
    pub etag: HeaderValue,
}

/// The tag of a list or export answered by the model at `seq` (holding the entries `ahead`
/// names past it) for `path?query` (`query` as sent): the same request at the same seq gives
/// the same body, on every instance.
pub fn list_tag(seq: u64, ahead: u64, path: &str, query: Option<&str>) -> ListTag {
    let mut hash = Sha256::new();
    if ahead != 0 {
        hash.update([2]);
        hash.update(ahead.to_le_bytes());
    }
    hash.update(env!("CARGO_PKG_VERSION").as_bytes());
    hash.update([0]);
    hash.update(path.as_bytes());
    for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        // The consistency token does not change the body.
        if k == "min_seq" {
            continue;
        }
        hash.update([0]);
        hash.update(k.as_bytes());
        hash.update([1]);
        hash.update(v.as_bytes());
    }
    let request: [u8; 32] = hash.finalize().into();
    // `W/"s{seq}-{first 8 bytes in hex}"`, written without the formatting machinery (every
    // list request makes one).
    let mut short = [0_u8; 16];
    let short = match hex::encode_to_slice(request.get(..8).unwrap_or_default(), &mut short) {
        Ok(()) => std::str::from_utf8(&short).unwrap_or_default(),
        Err(_) => "",
    };
    let mut text = String::with_capacity(48);
    text.push_str("W/\"s");
    text.push_str(itoa::Buffer::new().format(seq));
    text.push('-');
    text.push_str(short);
    text.push('"');
    let etag = HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static("W/\"s0\""));
    ListTag {
        seq,
        ahead,
        request,
        etag,
    }
}

/// A list's tag at the model's current seq (read before the list is), or the 304 to answer at
/// once when the client holds that tag already. `Ok(None)`: no seq to tag with.
pub async fn list_tag_or_304(
    model: &ModelSeq,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Option<ListTag>, crate::response::Response> {
    let Some(seq) = model.now().await else {
        return Ok(None);
    };
    let tag = list_tag(seq, model.ahead(), uri.path(), uri.query());
    if !fresh(headers, &tag.etag) {
        return Ok(Some(tag));
    }
    let mut response = crate::response::empty(StatusCode::NOT_MODIFIED);
    let out = response.headers_mut();
    out.insert(header::ETAG, tag.etag);
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    out.insert(SEQ_HEADER.clone(), HeaderValue::from(seq));
    Err(response)
}

/// `response` with the list tag and seq [`list_tag_or_304`] gave.
pub fn tagged(
    mut response: crate::response::Response,
    tag: Option<&ListTag>,
) -> crate::response::Response {
    if let Some(tag) = tag {
        let headers = response.headers_mut();
        headers.insert(header::ETAG, tag.etag.clone());
        headers.insert(SEQ_HEADER.clone(), HeaderValue::from(tag.seq));
    }
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_compares_weakly_and_takes_lists_and_star() {
        let tag = HeaderValue::from_static("\"v3\"");
        for held in ["\"v3\"", "W/\"v3\"", "\"v1\", \"v3\"", "*"] {
            assert!(matches_any(&HeaderValue::from_static(held), &tag), "{held}");
        }
        for held in ["\"v2\"", "\"v33\"", ""] {
            assert!(
                !matches_any(&HeaderValue::from_static(held), &tag),
                "{held}"
            );
        }
    }

    #[test]
    fn list_tags_change_with_the_seq_the_entries_ahead_and_the_query_but_not_the_token() {
        let q = Some;
        let tag = |seq, ahead, path, query| list_tag(seq, ahead, path, query).etag;
        let a = tag(7, 0, "/api/v1/agents", q("limit=50"));
        assert_eq!(a, tag(7, 0, "/api/v1/agents", q("limit=50&min_seq=7")));
        assert_ne!(a, tag(8, 0, "/api/v1/agents", q("limit=50")));
        assert_ne!(a, tag(7, 0, "/api/v1/agents", q("limit=100")));
        assert_ne!(a, tag(7, 0, "/api/v1/genesis/skills", q("limit=50")));
        // A model holding writes of its process past seq 7 answers with another tag.
        let ahead = tag(7, 99, "/api/v1/agents", q("limit=50"));
        assert_ne!(a, ahead);
        assert_ne!(ahead, tag(7, 98, "/api/v1/agents", q("limit=50")));
        let whole = list_tag(1234567890123, 0, "/api/v1/agents", None);
        assert_eq!(
            whole.etag.to_str().unwrap(),
            format!("W/\"s1234567890123-{}\"", hex::encode(&whole.request[..8]))
        );
    }
}

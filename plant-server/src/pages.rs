//! Whole catalog answers, kept while the model stays at the seq they were read at.
//!
//! A list, or one entity, is a pure function of the model's state and the request (a list's tag
//! says so: the same request at the same seq gives the same body, on every instance), and the
//! catalog is read far more often than it changes. So the bytes of an answer, with its `Link` or
//! `ETag`, are kept under a key of the request (a list: its tag's digest; an entity: its kind
//! and id) and given again to the same request until the model moves on: the first answer at a
//! new seq empties the cache. Its memory is bounded by a count and a byte budget; past either,
//! answers are built per request until the next seq.
//!
//! An answer kept at seq `n` was read from a model at `n` or later (the seq is read before the
//! answer is), so a request at `n` may be given a newer answer than its seq, never an older one:
//! the same as building it.

use std::collections::HashMap;
use std::sync::RwLock;

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};

use plant_core::model::Kind;
use uuid::Uuid;

use crate::conditional::ListTag;
use crate::response::{Response, json_bytes_response};

/// At most this many answers are kept.
const MAX_PAGES: usize = 512;
/// At most this many bytes of answers are kept.
const MAX_BYTES: usize = 32 << 20;

/// A kept answer: its body and the headers that go with it.
#[derive(Debug, Clone)]
pub struct Page {
    /// The JSON array or object.
    pub body: Bytes,
    /// A list's `Link: <…>; rel="next"` when the page is full.
    pub link: Option<HeaderValue>,
    /// An entity's `ETag` (`"v<version>"`); a list's is its tag, made per request.
    pub etag: Option<HeaderValue>,
}

impl Page {
    /// An empty list.
    pub fn empty_list() -> Self {
        Self {
            body: Bytes::from_static(b"[]"),
            link: None,
            etag: None,
        }
    }

    /// The 200 answer: the JSON body with its `Link` and `ETag`.
    pub fn into_response(self) -> Response {
        let mut response = json_bytes_response(StatusCode::OK, self.body);
        let headers = response.headers_mut();
        if let Some(link) = self.link {
            headers.insert(header::LINK, link);
        }
        if let Some(etag) = self.etag {
            headers.insert(header::ETAG, etag);
        }
        response
    }
}

/// The key of a request's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    seq: u64,
    /// [`plant_core::read_model::Ahead::digest`] of the model the answer is read from.
    ahead: u64,
    request: [u8; 32],
}

impl Key {
    /// The key of the list `tag` names.
    pub fn list(tag: &ListTag) -> Self {
        Self {
            seq: tag.seq,
            ahead: tag.ahead,
            request: tag.request,
        }
    }

    /// The key of one entity of `kind` at `seq` (and `ahead`, the model's
    /// [`plant_core::read_model::Ahead::digest`]): its kind and id, where a list's digest is
    /// SHA-256 (no list digest ends in fifteen zero bytes but by chance of 2^-120).
    pub fn entity(seq: u64, ahead: u64, kind: Kind, id: Uuid) -> Self {
        let mut request = [0u8; 32];
        request[0] = match kind {
            Kind::Industry => 1,
            Kind::Skill => 2,
            Kind::JobRole => 3,
            Kind::Team => 4,
            Kind::Agent => 5,
            Kind::Trial => 6,
            Kind::Job => 7,
            Kind::PrecedentSeed => 8,
        };
        request[1..17].copy_from_slice(id.as_bytes());
        Self {
            seq,
            ahead,
            request,
        }
    }
}

#[derive(Debug, Default)]
struct Kept {
    seq: u64,
    ahead: u64,
    bytes: usize,
    pages: HashMap<[u8; 32], Page>,
}

/// The answers kept at the model's latest seq.
#[derive(Debug, Default)]
pub struct Pages {
    kept: RwLock<Kept>,
}

impl Pages {
    /// The answer kept for `key`, or the one `build` makes, then kept for `key`. `None`: no seq
    /// to key by (a store that cannot say), so nothing is kept.
    pub async fn get_or_build<E>(
        &self,
        key: Option<Key>,
        build: impl Future<Output = Result<Page, E>>,
    ) -> Result<Page, E> {
        if let Some(page) = key.and_then(|key| self.get(key)) {
            return Ok(page);
        }
        let page = build.await?;
        if let Some(key) = key {
            self.put(key, &page);
        }
        Ok(page)
    }

    /// The answer kept for `key`, if its seq (and the entries its model held ahead of it) are
    /// the ones kept.
    pub fn get(&self, key: Key) -> Option<Page> {
        let kept = self.kept.read().unwrap_or_else(|p| p.into_inner());
        if kept.seq != key.seq || kept.ahead != key.ahead {
            return None;
        }
        kept.pages.get(&key.request).cloned()
    }

    /// Keeps `page` as the answer to `key`: the first answer at a newer seq empties the cache,
    /// as does one at the same seq from a model holding other entries ahead of it (this
    /// process's own writes, [`plant_core::read_model::Ahead`]); an answer at an older seq
    /// than the one kept is not kept.
    pub fn put(&self, key: Key, page: &Page) {
        let mut kept = self.kept.write().unwrap_or_else(|p| p.into_inner());
        if key.seq > kept.seq || (key.seq == kept.seq && key.ahead != kept.ahead) {
            *kept = Kept {
                seq: key.seq,
                ahead: key.ahead,
                ..Kept::default()
            };
        } else if key.seq < kept.seq {
            return;
        }
        let size = page.body.len();
        if kept.pages.len() >= MAX_PAGES || kept.bytes.saturating_add(size) > MAX_BYTES {
            return;
        }
        if kept.pages.insert(key.request, page.clone()).is_none() {
            kept.bytes += size;
        }
    }

    /// How many answers are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.kept
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .pages
            .len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::conditional;

    fn list_tag(seq: u64, path: &str, query: Option<&str>) -> Key {
        Key::list(&conditional::list_tag(seq, 0, path, query))
    }

    fn page(body: &'static [u8]) -> Page {
        Page {
            body: Bytes::from_static(body),
            link: None,
            etag: None,
        }
    }

    #[test]
    fn an_answer_is_given_again_only_at_its_seq_and_to_its_request() {
        let pages = Pages::default();
        let at7 = list_tag(7, "/api/v1/agents", Some("limit=50"));
        pages.put(at7, &page(b"[1]"));
        assert_eq!(pages.get(at7).unwrap().body, &b"[1]"[..]);
        // The token does not change the request.
        let token = list_tag(7, "/api/v1/agents", Some("limit=50&min_seq=3"));
        assert_eq!(pages.get(token).unwrap().body, &b"[1]"[..]);
        assert!(
            pages
                .get(list_tag(7, "/api/v1/agents", Some("limit=51")))
                .is_none()
        );
        assert!(
            pages
                .get(list_tag(8, "/api/v1/agents", Some("limit=50")))
                .is_none()
        );

        // A late answer tagged 6 is not kept, and does not displace seq 7's.
        pages.put(
            list_tag(6, "/api/v1/agents", Some("limit=5")),
            &page(b"[0]"),
        );
        assert!(
            pages
                .get(list_tag(6, "/api/v1/agents", Some("limit=5")))
                .is_none()
        );
        assert_eq!(pages.len(), 1);

        // The first answer at seq 8 empties the cache.
        let at8 = list_tag(8, "/api/v1/agents", Some("limit=5"));
        pages.put(at8, &page(b"[2]"));
        assert_eq!(pages.len(), 1);
        assert!(pages.get(at7).is_none());
        assert_eq!(pages.get(at8).unwrap().body, &b"[2]"[..]);
    }

    #[test]
    fn an_entity_is_kept_under_its_kind_and_id() {
        let pages = Pages::default();
        let id = Uuid::new_v4();
        pages.put(Key::entity(3, 0, Kind::Agent, id), &page(b"{}"));
        assert!(pages.get(Key::entity(3, 0, Kind::Agent, id)).is_some());
        assert!(pages.get(Key::entity(3, 0, Kind::Skill, id)).is_none());
        assert!(
            pages
                .get(Key::entity(3, 0, Kind::Agent, Uuid::new_v4()))
                .is_none()
        );
        assert!(pages.get(Key::entity(4, 0, Kind::Agent, id)).is_none());
        // The same seq from a model holding this process's writes ahead of it: not that answer,
        // and its first answer replaces the ones kept.
        assert!(pages.get(Key::entity(3, 9, Kind::Agent, id)).is_none());
        pages.put(Key::entity(3, 9, Kind::Agent, id), &page(b"{\"v\":2}"));
        assert!(pages.get(Key::entity(3, 9, Kind::Agent, id)).is_some());
        assert!(pages.get(Key::entity(3, 0, Kind::Agent, id)).is_none());
    }

    #[test]
    fn the_count_is_bounded() {
        let pages = Pages::default();
        for i in 0..MAX_PAGES + 10 {
            let query = format!("offset={i}");
            pages.put(list_tag(1, "/api/v1/agents", Some(&query)), &page(b"[]"));
        }
        assert_eq!(pages.len(), MAX_PAGES);
        // Past the bound an answer is still given, built per request, not kept.
        let late = list_tag(1, "/api/v1/agents", Some("offset=999999"));
        assert!(pages.get(late).is_none());
    }

    #[test]
    fn the_bytes_are_bounded() {
        let pages = Pages::default();
        let big = Bytes::from(vec![b' '; MAX_BYTES / 2 + 1]);
        for i in 0..3 {
            let query = format!("offset={i}");
            pages.put(
                list_tag(1, "/api/v1/agents", Some(&query)),
                &Page {
                    body: big.clone(),
                    link: None,
                    etag: None,
                },
            );
        }
        assert_eq!(pages.len(), 1);
    }
}

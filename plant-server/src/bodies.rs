//! Catalog bodies serialised once per version: a list is a concatenation of cached bytes, not a
//! re-serialisation.
//!
//! A list item comes in two forms. The **lean** form (the default for lists) leaves out what
//! grows with every version — `amendment_history` and `hash_chain_sha256` — and keeps every
//! other field, so everything the portals read is there (`version` and `version_hash` name the
//! version; the entity itself, `…/history` and `…/versions` carry the history). The **full**
//! form (`?full=true`, and every single-entity answer) is the entity as stored. Agents add their
//! industry's name (lowercase), which is appended to the cached bytes since it is not the
//! agent's to version; teams add their members and are built per request.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::sync::RwLock;

use bytes::Bytes;
use plant_core::Catalog;
use plant_core::model::{Kind, Record};
use serde_json::Value;
use uuid::Uuid;

use crate::problem::ApiError;
use crate::wire::{self, Names};

/// Which form of an entity a response carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Without amendment history and hash chain.
    Lean,
    /// As stored.
    Full,
}

impl Form {
    /// `?full=true` (or `1`) asks for the full form of list items; `false`, `0` or absent for
    /// the lean one. Anything else is a 422.
    pub fn of_list(full: Option<&str>) -> Result<Self, ApiError> {
        Ok(if crate::query::flag("full", full)? {
            Self::Full
        } else {
            Self::Lean
        })
    }
}

/// Past this many entities the cache starts again empty: its memory stays bounded whatever
/// the catalog's size (a hot page is cached again on its next read).
const MAX_CACHED: usize = 20_000;

#[derive(Debug)]
struct Cached {
    version: u64,
    lean: Option<Bytes>,
    full: Option<Bytes>,
}

/// The cache: per entity, the bytes of its current version in each form asked for.
#[derive(Debug, Default)]
pub struct Bodies {
    cache: RwLock<HashMap<Uuid, Cached>>,
}

impl Bodies {
    /// The JSON object of `record` (a catalog entity or precedent seed) in `form`, serialised
    /// at most once per version.
    pub fn entity(&self, record: &Record, form: Form) -> Result<Bytes, ApiError> {
        let (id, version) = (record.id(), record.version());
        {
            let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
            if let Some(hit) = cache
                .get(&id)
                .filter(|c| c.version == version)
                .and_then(|c| match form {
                    Form::Lean => c.lean.clone(),
                    Form::Full => c.full.clone(),
                })
            {
                return Ok(hit);
            }
        }
        let bytes = Bytes::from(serialise(record, form)?);
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= MAX_CACHED && !cache.contains_key(&id) {
            cache.clear();
        }
        let slot = cache.entry(id).or_insert(Cached {
            version,
            lean: None,
            full: None,
        });
        if slot.version != version {
            *slot = Cached {
                version,
                lean: None,
                full: None,
            };
        }
        match form {
            Form::Lean => slot.lean = Some(bytes.clone()),
            Form::Full => slot.full = Some(bytes.clone()),
        }
        Ok(bytes)
    }

    /// A JSON array of `records` in `form`, as the portals read them: cached entity bytes, with
    /// the agents' industry names appended and the teams' members built.
    pub async fn list<R: Borrow<Record> + Sync>(
        &self,
        catalog: &Catalog,
        records: &[R],
        form: Form,
    ) -> Result<Vec<u8>, ApiError> {
        self.array(catalog, records, None, form).await
    }

    /// A JSON array of ranked `records` in `form`, each item as [`Bodies::list`] writes it with
    /// its `score` (the same position in `scores`) added.
    pub async fn ranked(
        &self,
        catalog: &Catalog,
        records: &[Record],
        scores: &[f32],
        form: Form,
    ) -> Result<Vec<u8>, ApiError> {
        self.array(catalog, records, Some(scores), form).await
    }

    /// The array [`Bodies::list`] and [`Bodies::ranked`] write.
    async fn array<R: Borrow<Record> + Sync>(
        &self,
        catalog: &Catalog,
        records: &[R],
        scores: Option<&[f32]>,
        form: Form,
    ) -> Result<Vec<u8>, ApiError> {
        let industries = industry_names(catalog, records).await?;
        let mut out = Vec::with_capacity(records.len() * 1024 + 2);
        out.push(b'[');
        for (i, record) in records.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            self.write_item(catalog, record.borrow(), form, &industries, &mut out)
                .await?;
            if let Some(score) = scores.and_then(|s| s.get(i)) {
                // Every item is an object: reopen it for the score.
                out.pop();
                out.extend_from_slice(b",\"score\":");
                serde_json::to_writer(&mut out, &f64::from(*score)).map_err(ApiError::internal)?;
                out.push(b'}');
            }
        }
        out.push(b']');
        Ok(out)
    }

    /// One record's JSON in `form` (see [`Bodies::list`]).
    pub async fn item(
        &self,
        catalog: &Catalog,
        record: &Record,
        form: Form,
    ) -> Result<Vec<u8>, ApiError> {
        let industries = industry_names(catalog, std::slice::from_ref(record)).await?;
        let mut out = Vec::with_capacity(2048);
        self.write_item(catalog, record, form, &industries, &mut out)
            .await?;
        Ok(out)
    }

    async fn write_item(
        &self,
        catalog: &Catalog,
        record: &Record,
        form: Form,
        industries: &HashMap<Uuid, String>,
        out: &mut Vec<u8>,
    ) -> Result<(), ApiError> {
        match record {
            Record::Agent(agent) => {
                let bytes = self.entity(record, form)?;
                // The object without its closing brace, then the industry's name.
                let open = bytes.strip_suffix(b"}").ok_or_else(|| {
                    ApiError::internal("an entity did not serialise to an object")
                })?;
                out.extend_from_slice(open);
                out.extend_from_slice(b",\"industry\":");
                let industry = industries
                    .get(&agent.body.industry_id)
                    .map(|n| n.to_lowercase());
                serde_json::to_writer(&mut *out, &industry).map_err(ApiError::internal)?;
                out.push(b'}');
            }
            Record::Team(_) => {
                let shown = wire::record_out(catalog, record, &mut Names::default()).await?;
                let mut value = serde_json::to_value(&shown).map_err(ApiError::internal)?;
                if form == Form::Lean {
                    strip(&mut value);
                }
                serde_json::to_writer(&mut *out, &value).map_err(ApiError::internal)?;
            }
            _ => out.extend_from_slice(&self.entity(record, form)?),
        }
        Ok(())
    }
}

/// The names of the industries the agents among `records` belong to, in one store call.
async fn industry_names<R: Borrow<Record>>(
    catalog: &Catalog,
    records: &[R],
) -> Result<HashMap<Uuid, String>, ApiError> {
    let ids = Record::agent_industry_ids(records);
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(catalog
        .store()
        .names(Kind::Industry, &ids)
        .await
        .map_err(plant_core::Error::from)?)
}

/// The fields the lean form leaves out: they grow with every version.
const GROWING: [&str; 2] = ["amendment_history", "hash_chain_sha256"];

fn strip(value: &mut Value) {
    if let Value::Object(map) = value {
        for key in GROWING {
            map.remove(key);
        }
    }
}

fn serialise(record: &Record, form: Form) -> Result<Vec<u8>, ApiError> {
    match form {
        Form::Full => serde_json::to_vec(record).map_err(ApiError::internal),
        Form::Lean => {
            let mut value = serde_json::to_value(record).map_err(ApiError::internal)?;
            strip(&mut value);
            serde_json::to_vec(&value).map_err(ApiError::internal)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use plant_core::input::IndustryInput;
    use plant_core::search::HashingEmbedder;
    use plant_core::store::MemoryStore;

    #[tokio::test]
    async fn an_entity_is_serialised_once_per_version_and_lean_drops_only_the_growing_fields() {
        let catalog = Catalog::new(Arc::new(MemoryStore::new()), Arc::new(HashingEmbedder));
        let input = IndustryInput {
            name: Some("Retail".into()),
            ..Default::default()
        };
        let record: Record = catalog
            .create_industry(&input, "test")
            .await
            .unwrap()
            .into();
        let bodies = Bodies::default();
        let full = bodies.entity(&record, Form::Full).unwrap();
        let again = bodies.entity(&record, Form::Full).unwrap();
        // The same buffer, not an equal one: it was not serialised again.
        assert_eq!(full.as_ptr(), again.as_ptr());
        assert_eq!(
            serde_json::from_slice::<Value>(&full).unwrap(),
            serde_json::to_value(&record).unwrap()
        );
        let lean: Value =
            serde_json::from_slice(&bodies.entity(&record, Form::Lean).unwrap()).unwrap();
        let mut expected = serde_json::to_value(&record).unwrap();
        strip(&mut expected);
        assert_eq!(lean, expected);
        assert!(lean.get("amendment_history").is_none());
        assert_eq!(lean["version"], 1);
        assert!(lean.get("version_hash").is_some());

        let mut next = record.clone();
        next.set_version(2);
        let newer = bodies.entity(&next, Form::Full).unwrap();
        assert_ne!(newer.as_ptr(), full.as_ptr());
    }
}

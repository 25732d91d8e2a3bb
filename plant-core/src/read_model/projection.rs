//! The projection itself: the catalog records at one seq of the chain, indexed the ways the
//! store's reads need them, and the fold that moves it to the next entry.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use uuid::Uuid;

use crate::Timestamp;
use crate::audit::AuditEntry;
use crate::model::{Kind, Name, Record};
use crate::store::{ListQuery, StoreError, StoreResult};
use crate::store::{matches, name_key};

/// The kinds the model keeps: the catalog and its precedent seeds. Trials and jobs are customer
/// data, read per customer, and stay on the store.
pub const PROJECTED: &[Kind] = &[
    Kind::Industry,
    Kind::Skill,
    Kind::JobRole,
    Kind::Team,
    Kind::Agent,
    Kind::PrecedentSeed,
];

/// Whether the model answers reads of `kind`.
pub fn is_projected(kind: Kind) -> bool {
    PROJECTED.contains(&kind)
}

/// The records of the projected kinds as of [`Projection::seq`], and those of this process's
/// entries past it that the model holds already (see [`super::Shared::fold_kept`]).
#[derive(Debug, Default)]
pub(super) struct Projection {
    /// The last entry folded in with every entry before it.
    pub(super) seq: u64,
    records: HashMap<Uuid, Arc<Record>>,
    /// Per kind, in list order: `(created_at, id)`, which never changes for a record.
    ordered: HashMap<Kind, BTreeMap<(Timestamp, Uuid), Arc<Record>>>,
    names: HashMap<(Kind, String), Uuid>,
    external_ids: HashMap<String, Uuid>,
}

impl Projection {
    /// Puts a record as the store holds it (the snapshot at start, or a record re-read after an
    /// entry whose payload could not be read).
    pub(super) fn put(&mut self, record: Record) {
        let id = record.id();
        if let Some(old) = self.records.remove(&id) {
            self.unindex(&old);
        }
        let record = Arc::new(record);
        if let Some(key) = name_key(&record) {
            self.names.insert(key, id);
        }
        if let Some(ext) = external_id(&record) {
            self.external_ids.insert(ext, id);
        }
        self.ordered
            .entry(record.kind())
            .or_default()
            .insert((record.created_at(), id), record.clone());
        self.records.insert(id, record);
    }

    fn unindex(&mut self, old: &Record) {
        if let Some(key) = name_key(old)
            && self.names.get(&key) == Some(&old.id())
        {
            self.names.remove(&key);
        }
        if let Some(ext) = external_id(old)
            && self.external_ids.get(&ext) == Some(&old.id())
        {
            self.external_ids.remove(&ext);
        }
        if let Some(list) = self.ordered.get_mut(&old.kind()) {
            list.remove(&(old.created_at(), old.id()));
        }
    }

    /// Folds the entry `self.seq + 1`: its payload is the record after the change; the fields
    /// the chain derives (version hash, amendment history, hash chain) come from the record
    /// before it and the entry. An entry for a version the model already holds (a snapshot read
    /// after the entry was committed) changes nothing.
    pub(super) fn fold(&mut self, entry: &AuditEntry) -> StoreResult<()> {
        let kind = entry.entity_type.parse::<Kind>().ok();
        let Some(kind) = kind.filter(|k| is_projected(*k)) else {
            return Ok(());
        };
        let previous = self.records.get(&entry.entity_id).cloned();
        if previous
            .as_ref()
            .is_some_and(|p| p.version() >= entry.entity_version)
        {
            return Ok(());
        }
        let mut record = Record::from_json_str(kind, &entry.payload)
            .map_err(|e| StoreError::Internal(e.to_string().into()))?;
        if let (Some(base), Some(old)) =
            (record.base_mut(), previous.as_ref().and_then(|p| p.base()))
        {
            base.amendment_history.clone_from(&old.amendment_history);
            base.hash_chain_sha256.clone_from(&old.hash_chain_sha256);
        }
        record.apply_entry(entry);
        self.put(record);
        Ok(())
    }

    /// Whether `entry` makes the next version of its record here (its first, when the model
    /// holds no record of it). Folding such an entry gives the record the store holds after
    /// it even while entries of other records before it are not folded yet: a record's fold
    /// reads nothing but the record before it and the entry.
    pub(super) fn follows(&self, entry: &AuditEntry) -> bool {
        let held = self
            .records
            .get(&entry.entity_id)
            .map_or(0, |record| record.version());
        held.checked_add(1) == Some(entry.entity_version)
    }

    /// A record by id.
    pub(super) fn get(&self, kind: Option<Kind>, id: Uuid) -> Option<&Arc<Record>> {
        self.records
            .get(&id)
            .filter(|r| kind.is_none_or(|k| r.kind() == k))
    }

    /// A record by its unique name (a precedent seed by its seed id), compared as the stores
    /// compare it.
    pub(super) fn get_by_name(&self, kind: Kind, name: &str) -> Option<&Arc<Record>> {
        let key = match kind {
            Kind::PrecedentSeed => (kind, name.trim().to_ascii_uppercase()),
            _ => (kind, Name::parse(name).ok()?.unique_key(kind)),
        };
        self.names.get(&key).and_then(|id| self.records.get(id))
    }

    /// The owner of an external id.
    pub(super) fn external_id_owner(&self, external_id: &str) -> Option<Uuid> {
        self.external_ids.get(external_id).copied()
    }

    /// The names of the records of `kind` among `ids`.
    pub(super) fn names(&self, kind: Kind, ids: &[Uuid]) -> HashMap<Uuid, String> {
        ids.iter()
            .filter_map(|id| {
                let name = self.get(Some(kind), *id)?.name()?;
                Some((*id, name.as_str().to_owned()))
            })
            .collect()
    }

    /// The records of `kind` matching the query's filters, in `(created_at, id)` order, from
    /// after its cursor.
    fn matching<'a>(
        &'a self,
        kind: Kind,
        query: &'a ListQuery,
        after: Option<(Timestamp, Uuid)>,
    ) -> impl Iterator<Item = &'a Arc<Record>> + 'a {
        let start = match after {
            Some(after) => Bound::Excluded(after),
            None => Bound::Unbounded,
        };
        self.ordered
            .get(&kind)
            .into_iter()
            .flat_map(move |list| list.range((start, Bound::Unbounded)))
            .map(|(_, r)| r)
            .filter(move |r| matches(r, query))
    }

    /// A page of a list, as [`crate::store::Store::list`] answers it.
    pub(super) fn list(&self, kind: Kind, query: &ListQuery) -> Vec<Arc<Record>> {
        let offset = usize::try_from(query.offset).unwrap_or(usize::MAX);
        let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
        self.matching(kind, query, query.after)
            .skip(offset)
            .take(limit)
            .cloned()
            .collect()
    }

    /// How many records match the query's filters (not its cursor, offset or limit).
    pub(super) fn count(&self, kind: Kind, query: &ListQuery) -> u64 {
        self.matching(kind, query, None).count() as u64
    }

    /// How many records it holds.
    pub(super) fn len(&self) -> usize {
        self.records.len()
    }
}

fn external_id(record: &Record) -> Option<String> {
    record.base().and_then(|b| b.external_id.clone())
}

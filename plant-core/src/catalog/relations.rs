//! `parent_id` and `child_ids`: one relationship written from both ends. A record's parent is
//! given with the record; the parent's `child_ids` is written by the same commit (an audited
//! `add_child` / `remove_child` change of the parent), so the two never disagree.

use uuid::Uuid;

use super::{Catalog, now};
use crate::error::{Error, Result};
use crate::model::Status;
use crate::store::{Action, Change};

impl Catalog {
    /// The changes to the parents when `child`'s parent goes from `old` to `new`: the old parent
    /// loses it from `child_ids`, the new one gains it. The new parent must be a catalog entity
    /// that is not deleted, and not the child itself.
    pub(super) async fn parent_changes(
        &self,
        child: Uuid,
        old: Option<Uuid>,
        new: Option<Uuid>,
        actor: &str,
    ) -> Result<Vec<Change>> {
        if old == new {
            return Ok(Vec::new());
        }
        let mut changes = Vec::new();
        if let Some(parent_id) = old
            && let Some(mut parent) = self.store.get(None, parent_id).await?
            && let Some(base) = parent.base_mut()
        {
            base.child_ids.retain(|id| *id != child);
            base.updated_at = now();
            let version = parent.version();
            changes.push(Change::update(parent, version, Action::RemoveChild, actor));
        }
        if let Some(parent_id) = new {
            if parent_id == child {
                return Err(Error::input(
                    "parent_id",
                    "an entity cannot be its own parent",
                ));
            }
            let mut parent = self
                .store
                .get(None, parent_id)
                .await?
                .filter(|r| r.base().is_some_and(|b| b.status != Status::Deleted))
                .ok_or_else(|| {
                    Error::input("parent_id", "parent_id refers to no catalog entity")
                })?;
            if let Some(base) = parent.base_mut() {
                if !base.child_ids.contains(&child) {
                    base.child_ids.push(child);
                }
                base.updated_at = now();
            }
            let version = parent.version();
            changes.push(Change::update(parent, version, Action::AddChild, actor));
        }
        Ok(changes)
    }
}

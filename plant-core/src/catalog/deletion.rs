//! Deletion: the last step of an entity's lifecycle (`active → archived → deleted`), the one
//! operation that writes `deleted_at` and `status: deleted`.

use uuid::Uuid;

use super::{Catalog, check_version, now};
use crate::error::{Error, Result};
use crate::model::{Kind, Record, Status};
use crate::store::{Action, Change};

impl Catalog {
    /// The next step of an entity's end of life, what `DELETE` on it means: an active entity
    /// is archived ([`Catalog::archive`]), an archived (or deleted) one goes to
    /// [`Catalog::delete`], both at `expected_version` when given.
    pub async fn retire(
        &self,
        kind: Kind,
        id: Uuid,
        expected_version: Option<u64>,
        actor: &str,
    ) -> Result<Record> {
        let current = self.get(kind, id).await?;
        match current.base().map(|b| b.status) {
            Some(Status::Archived | Status::Deleted) => {
                self.delete_read(current, expected_version, actor).await
            }
            _ => self.archive_read(current, expected_version, actor).await,
        }
    }

    /// Deletes an archived entity: `status: deleted` and `deleted_at` set, audited (action
    /// `delete`). Nothing is physically removed — the record and its chain stay, verifiable —
    /// but a deleted entity satisfies no reference any more. Only an archived entity can be
    /// deleted (archive it first), only while no active record depends on it, and deletion is
    /// final: [`Error::Conflict`] otherwise.
    pub async fn delete(
        &self,
        kind: Kind,
        id: Uuid,
        expected_version: Option<u64>,
        actor: &str,
    ) -> Result<Record> {
        let current = self.get(kind, id).await?;
        self.delete_read(current, expected_version, actor).await
    }

    /// [`Catalog::delete`] of a record already read.
    async fn delete_read(
        &self,
        current: Record,
        expected_version: Option<u64>,
        actor: &str,
    ) -> Result<Record> {
        let (kind, id) = (current.kind(), current.id());
        check_version(expected_version, current.version())?;
        match current.base().map(|b| b.status) {
            Some(Status::Archived) => {}
            Some(Status::Active) => {
                return Err(Error::Conflict(format!(
                    "this {kind} is active: archive it before deleting it"
                )));
            }
            Some(Status::Deleted) => {
                return Err(Error::Conflict(format!("this {kind} is already deleted")));
            }
            None => {
                return Err(Error::input(
                    "entity_type",
                    format!("{kind} cannot be deleted"),
                ));
            }
        }
        let dependents = self.active_dependents(kind, id).await?;
        if dependents > 0 {
            return Err(Error::Conflict(format!(
                "{dependents} active record(s) depend on this {kind}"
            )));
        }
        let mut next = current.clone();
        if let Some(base) = next.base_mut() {
            let at = now();
            base.status = Status::Deleted;
            base.deleted_at = Some(at);
            base.updated_at = at;
        }
        let change = Change::update(next, current.version(), Action::Delete, actor);
        Ok(self.commit(change).await?.record)
    }
}

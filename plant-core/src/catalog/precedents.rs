//! Precedent seeds: creating them with a contradiction check, superseding them atomically,
//! reading their lineage, searching them by meaning, and finding the ones a certification
//! applies.
//!
//! ## The conflict threshold
//!
//! A new seed is compared with every active seed by cosine similarity of
//! `named_text(title, content)`. The two embedders live on different scales, so each has its own
//! threshold ([`conflict_threshold`]), measured on the shipped seeds (`tests/precedents.rs` keeps
//! the measurement as a test):
//!
//! - MiniLM: lightly reworded duplicates score 0.99; a paraphrase in other words 0.85; two
//!   different rules on the same subject (PS-001 and PS-002: an agent's skill vs. a role's
//!   skills) 0.71, and other pairs of seeds 0.18–0.52. 0.80 flags the paraphrase and not the
//!   different rules. The original design's 0.9 would miss the paraphrase. A heavy rewording
//!   can fall to 0.66, under the same-subject pair: no threshold separates those, so review
//!   does.
//! - Hashing (lexical): reworded duplicates score 0.90–0.97, different seeds 0.01–0.50 (the
//!   same-subject pair again highest). 0.70 sits between. It sees shared words only: a
//!   paraphrase in other words is not flagged.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Catalog, now};
use crate::error::{Cause, Error, Result};
use crate::model::{Description, Kind, Name, PrecedentSeed, PrecedentStatus, Record, SeedId};
use crate::search::named_text;
use crate::store::{Action, Change, ListQuery, SearchFilter, StatusFilter, StoredEmbedding};
use crate::validate::Violation;
use crate::validate::rules;

/// Cosine similarity above which an active seed is a possible conflict, for MiniLM.
pub const MINILM_CONFLICT_THRESHOLD: f32 = 0.80;
/// Cosine similarity above which an active seed is a possible conflict, for the hashing
/// embedder.
pub const HASHING_CONFLICT_THRESHOLD: f32 = 0.70;
/// How many precedents at most a certification applies (the closest in meaning).
pub const MAX_APPLIED_PRECEDENTS: usize = 5;
/// How many active seeds the contradiction check looks at.
const CONFLICT_CANDIDATES: usize = 10;

/// The conflict threshold for an embedder, by its model id.
///
/// ```
/// use plant_core::catalog::conflict_threshold;
/// assert_eq!(conflict_threshold("hashing-v1"), 0.70);
/// assert_eq!(conflict_threshold("sentence-transformers/all-MiniLM-L6-v2"), 0.80);
/// ```
pub fn conflict_threshold(model_id: &str) -> f32 {
    if model_id.starts_with("hashing") {
        HASHING_CONFLICT_THRESHOLD
    } else {
        MINILM_CONFLICT_THRESHOLD
    }
}

/// A request to create a precedent seed (or the successor in a supersession).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrecedentInput {
    /// The seed id (`PS-012`); the next free `PS-NNN` when absent.
    #[serde(default)]
    pub seed_id: Option<String>,
    /// A short title.
    pub title: String,
    /// The decision itself.
    pub content: String,
    /// The kinds it applies to (`Skill`, `job_role`, `agents`, … any spelling).
    pub applies_to: Vec<String>,
    /// The governor who approved it (the actor when absent).
    #[serde(default)]
    pub approving_governor_id: Option<String>,
    /// Create it `active` even when similar active seeds exist.
    #[serde(default)]
    pub acknowledge_conflicts: bool,
}

/// An active seed close in meaning to a new one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PossibleConflict {
    /// Its seed id.
    pub seed_id: String,
    /// Its title.
    pub title: String,
    /// Cosine similarity to the new seed.
    pub score: f32,
}

/// What creating or superseding a seed did.
#[derive(Debug, Clone, PartialEq)]
pub struct PrecedentOutcome {
    /// The new seed, `active`, or `pending_review` when it has unacknowledged conflicts.
    pub seed: PrecedentSeed,
    /// The seed it superseded, now `superseded`.
    pub superseded: Option<PrecedentSeed>,
    /// Active seeds above the conflict threshold.
    pub possible_conflicts: Vec<PossibleConflict>,
}

/// A seed and its lineage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lineage {
    /// The seeds it replaced, oldest first.
    pub older: Vec<PrecedentSeed>,
    /// The seeds that replaced it, oldest first.
    pub newer: Vec<PrecedentSeed>,
}

/// One result of a semantic query over seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrecedentHit {
    /// The seed.
    #[serde(flatten)]
    pub seed: PrecedentSeed,
    /// Cosine similarity to the query.
    pub score: f32,
}

fn bad(field: &str, message: impl Into<String>) -> Violation {
    Violation::new(rules::INPUT, field, message)
}

struct ParsedPrecedent {
    seed_id: Option<SeedId>,
    title: Name,
    content: Description,
    applies_to: Vec<Kind>,
    approving_governor_id: Option<String>,
}

fn parse_input(input: &PrecedentInput) -> Result<ParsedPrecedent> {
    let mut violations = Vec::new();
    let seed_id = match input.seed_id.as_deref().map(SeedId::parse).transpose() {
        Ok(s) => s,
        Err(e) => {
            violations.push(bad("seed_id", format!("seed_id {e}")));
            None
        }
    };
    let title = Name::parse(&input.title)
        .map_err(|e| violations.push(bad("title", format!("title {e}"))))
        .ok();
    let content = match Description::parse(&input.content) {
        Ok(c) if c.is_blank() => {
            violations.push(bad("content", "content must not be blank"));
            None
        }
        Ok(c) => Some(c),
        Err(e) => {
            violations.push(bad("content", format!("content {e}")));
            None
        }
    };
    let mut applies_to = Vec::new();
    for raw in &input.applies_to {
        match Kind::parse_loose(raw) {
            Ok(k) if matches!(k, Kind::Skill | Kind::JobRole | Kind::Agent | Kind::Team) => {
                if !applies_to.contains(&k) {
                    applies_to.push(k);
                }
            }
            _ => violations.push(bad(
                "applies_to",
                format!("'{raw}' is not a certified kind (Skill, JobRole, Team, Agent)"),
            )),
        }
    }
    if input.applies_to.is_empty() {
        violations.push(bad("applies_to", "applies_to must name at least one kind"));
    }
    let approving_governor_id = input
        .approving_governor_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    match (title, content) {
        (Some(title), Some(content)) if violations.is_empty() => Ok(ParsedPrecedent {
            seed_id,
            title,
            content,
            applies_to,
            approving_governor_id,
        }),
        _ => Err(Error::Invalid(violations)),
    }
}

fn as_seed(r: Record) -> Result<PrecedentSeed> {
    PrecedentSeed::try_from(r)
        .map_err(|_| Error::Internal(Cause::from("store returned another kind")))
}

impl Catalog {
    /// A precedent seed by its seed id.
    pub async fn get_precedent(&self, seed_id: &str) -> Result<PrecedentSeed> {
        let not_found = || Error::NotFound {
            kind: Kind::PrecedentSeed,
            id: seed_id.chars().take(64).collect(),
        };
        let key = SeedId::parse(seed_id).map_err(|_| not_found())?;
        match self
            .store
            .get_by_name(Kind::PrecedentSeed, key.as_str())
            .await?
        {
            Some(r) => as_seed(r),
            None => Err(not_found()),
        }
    }

    /// A seed's lineage: the seeds it replaced and the seeds that replaced it.
    pub async fn precedent_lineage(&self, seed: &PrecedentSeed) -> Result<Lineage> {
        let mut older = Vec::new();
        let mut next = seed.supersedes.clone();
        while let Some(id) = next {
            if older.len() > 10_000 {
                return Err(Error::Internal(Cause::from(
                    "precedent lineage does not end",
                )));
            }
            let s = self.get_precedent(id.as_str()).await?;
            next = s.supersedes.clone();
            older.push(s);
        }
        older.reverse();
        let mut newer = Vec::new();
        let mut next = seed.superseded_by.clone();
        while let Some(id) = next {
            if newer.len() > 10_000 {
                return Err(Error::Internal(Cause::from(
                    "precedent lineage does not end",
                )));
            }
            let s = self.get_precedent(id.as_str()).await?;
            next = s.superseded_by.clone();
            newer.push(s);
        }
        Ok(Lineage { older, newer })
    }

    /// Precedent seeds, by `(created_at, id)`, optionally of one status.
    pub async fn list_precedents(
        &self,
        status: Option<PrecedentStatus>,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<PrecedentSeed>> {
        let q = ListQuery {
            kind: Some(Kind::PrecedentSeed),
            status: status.map(StatusFilter::from),
            offset,
            limit,
            ..ListQuery::default()
        };
        self.store
            .list(&q)
            .await?
            .into_iter()
            .map(as_seed)
            .collect()
    }

    /// The `k` seeds closest in meaning to `text` (of one status when given), closest first.
    pub async fn query_precedents(
        &self,
        text: &str,
        status: Option<PrecedentStatus>,
        k: usize,
    ) -> Result<Vec<PrecedentHit>> {
        let filter = SearchFilter {
            kinds: vec![Kind::PrecedentSeed],
            status: status.map(StatusFilter::from),
            industry_id: None,
        };
        let hits = self.search(text, &filter, k).await?;
        let mut out = Vec::with_capacity(hits.len());
        for hit in hits {
            if let Some(r) = self.store.get(Some(Kind::PrecedentSeed), hit.id).await? {
                out.push(PrecedentHit {
                    seed: as_seed(r)?,
                    score: hit.score,
                });
            }
        }
        Ok(out)
    }

    /// Active seeds above the conflict threshold for `vector`, except those in `skip`.
    async fn conflicts(
        &self,
        vector: &StoredEmbedding,
        skip: &[&SeedId],
    ) -> Result<Vec<PossibleConflict>> {
        let filter = SearchFilter {
            kinds: vec![Kind::PrecedentSeed],
            status: Some(PrecedentStatus::Active.into()),
            industry_id: None,
        };
        let threshold = conflict_threshold(self.embedder.model_id());
        let hits = self
            .store
            .search(&vector.vector, &filter, CONFLICT_CANDIDATES)
            .await?;
        let mut out = Vec::new();
        for hit in hits.into_iter().filter(|h| h.score > threshold) {
            if skip.iter().any(|s| s.as_str() == hit.name) {
                continue;
            }
            if let Some(Record::PrecedentSeed(s)) =
                self.store.get(Some(Kind::PrecedentSeed), hit.id).await?
            {
                out.push(PossibleConflict {
                    seed_id: s.seed_id.as_str().to_owned(),
                    title: s.title.as_str().to_owned(),
                    score: hit.score,
                });
            }
        }
        Ok(out)
    }

    /// The next free `PS-NNN`.
    async fn next_seed_id(&self) -> Result<SeedId> {
        let q = ListQuery::of(Kind::PrecedentSeed, 0);
        let mut n = self.store.count(&q).await? + 1;
        loop {
            let candidate = SeedId::parse(&format!("PS-{n:03}"))
                .map_err(|e| Error::Internal(Cause::from(e.to_string())))?;
            if self
                .store
                .get_by_name(Kind::PrecedentSeed, candidate.as_str())
                .await?
                .is_none()
            {
                return Ok(candidate);
            }
            n += 1;
        }
    }

    /// Builds a new seed from input, embeds it and runs the contradiction check.
    async fn new_seed(
        &self,
        input: &PrecedentInput,
        actor: &str,
        supersedes: Option<&PrecedentSeed>,
    ) -> Result<(PrecedentSeed, StoredEmbedding, Vec<PossibleConflict>)> {
        let parsed = parse_input(input)?;
        let seed_id = match parsed.seed_id {
            Some(s) => s,
            None => self.next_seed_id().await?,
        };
        let embedding = self
            .embed_one(named_text(parsed.title.as_str(), parsed.content.as_str()))
            .await?;
        let mut skip = Vec::new();
        if let Some(old) = supersedes {
            skip.push(&old.seed_id);
        }
        let conflicts = self.conflicts(&embedding, &skip).await?;
        let status = if conflicts.is_empty() || input.acknowledge_conflicts {
            PrecedentStatus::Active
        } else {
            PrecedentStatus::PendingReview
        };
        let at = now();
        let approving_governor_id = if status == PrecedentStatus::Active {
            Some(
                parsed
                    .approving_governor_id
                    .unwrap_or_else(|| actor.to_owned()),
            )
        } else {
            parsed.approving_governor_id
        };
        let seed = PrecedentSeed {
            id: Uuid::now_v7(),
            seed_id,
            title: parsed.title,
            content: parsed.content,
            applies_to: parsed.applies_to,
            status,
            supersedes: supersedes.map(|s| s.seed_id.clone()),
            superseded_by: None,
            approving_governor_id,
            created_at: at,
            updated_at: at,
            version: 0,
            version_hash: None,
        };
        Ok((seed, embedding, conflicts))
    }

    /// Creates a precedent seed. Active seeds close in meaning are returned as possible
    /// conflicts, and unless the input acknowledges them the seed is created `pending_review`.
    pub async fn create_precedent(
        &self,
        input: &PrecedentInput,
        actor: &str,
    ) -> Result<PrecedentOutcome> {
        let (seed, embedding, possible_conflicts) = self.new_seed(input, actor, None).await?;
        let committed = self
            .commit(Change::create(seed, actor).with_embedding(Some(embedding)))
            .await?;
        Ok(PrecedentOutcome {
            seed: as_seed(committed.record)?,
            superseded: None,
            possible_conflicts,
        })
    }

    /// Replaces seed `seed_id` with a new one: the new seed names it in `supersedes`, and it
    /// becomes `superseded` with `superseded_by` set — both in one transaction, one audit entry
    /// each. Only the newest seed of a lineage (active or pending review) can be superseded.
    pub async fn supersede_precedent(
        &self,
        seed_id: &str,
        input: &PrecedentInput,
        actor: &str,
    ) -> Result<PrecedentOutcome> {
        let old = self.get_precedent(seed_id).await?;
        if !matches!(
            old.status,
            PrecedentStatus::Active | PrecedentStatus::PendingReview
        ) || old.superseded_by.is_some()
        {
            return Err(Error::Conflict(format!(
                "precedent {} is {}; only an active or pending seed can be superseded",
                old.seed_id, old.status
            )));
        }
        let (seed, embedding, possible_conflicts) = self.new_seed(input, actor, Some(&old)).await?;
        let mut replaced = old.clone();
        replaced.status = PrecedentStatus::Superseded;
        replaced.superseded_by = Some(seed.seed_id.clone());
        replaced.updated_at = seed.created_at;
        let changes = vec![
            Change::create(seed, actor).with_embedding(Some(embedding)),
            Change::update(replaced, old.version, Action::Supersede, actor),
        ];
        let mut committed = self.commit_all(changes).await?.into_iter();
        let (Some(new), Some(replaced)) = (committed.next(), committed.next()) else {
            return Err(Error::Internal(Cause::from(
                "the store committed fewer changes",
            )));
        };
        Ok(PrecedentOutcome {
            seed: as_seed(new)?,
            superseded: Some(as_seed(replaced)?),
            possible_conflicts,
        })
    }

    /// Approves a seed waiting for review: it becomes `active`, approved by `actor`.
    pub async fn approve_precedent(&self, seed_id: &str, actor: &str) -> Result<PrecedentSeed> {
        let current = self.get_precedent(seed_id).await?;
        if current.status != PrecedentStatus::PendingReview {
            return Err(Error::Conflict(format!(
                "precedent {} is {}, not pending_review",
                current.seed_id, current.status
            )));
        }
        let mut next = current.clone();
        next.status = PrecedentStatus::Active;
        next.approving_governor_id = Some(actor.to_owned());
        next.updated_at = now();
        let committed = self
            .commit(Change::update(
                next,
                current.version,
                Action::Approve,
                actor,
            ))
            .await?;
        as_seed(committed.record)
    }

    /// The seed ids of the active precedents a certification of `record` applies: those that
    /// apply to its kind, closest in meaning to its search text first, at most
    /// [`MAX_APPLIED_PRECEDENTS`].
    pub async fn applicable_precedents(&self, record: &Record) -> Result<Vec<String>> {
        let kind = record.kind();
        let Some(text) = self.search_text(record).await? else {
            return Ok(Vec::new());
        };
        let filter = SearchFilter {
            kinds: vec![Kind::PrecedentSeed],
            status: Some(PrecedentStatus::Active.into()),
            industry_id: None,
        };
        let total = self
            .store
            .count(&ListQuery {
                kind: Some(Kind::PrecedentSeed),
                status: Some(PrecedentStatus::Active.into()),
                ..ListQuery::default()
            })
            .await?;
        if total == 0 {
            return Ok(Vec::new());
        }
        let k = usize::try_from(total).unwrap_or(usize::MAX);
        let hits = self.search(&text, &filter, k).await?;
        let mut out = Vec::new();
        for hit in hits {
            if out.len() == MAX_APPLIED_PRECEDENTS {
                break;
            }
            if let Some(Record::PrecedentSeed(s)) =
                self.store.get(Some(Kind::PrecedentSeed), hit.id).await?
                && s.applies_to(kind)
            {
                out.push(s.seed_id.as_str().to_owned());
            }
        }
        Ok(out)
    }
}

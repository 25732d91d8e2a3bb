//! The SQL that reads records. The catalog kinds select plain columns, decoded by `rows.rs`;
//! trials, jobs and precedent seeds are assembled into their wire JSON by the database
//! (`jsonb_build_object`, explicit columns) and deserialized by the model's own serde types.
//!
//! Every list query binds the kind's filters first (a `null` filter matches everything), then
//! the keyset cursor `(created_at, id)`, the offset and the limit.

/// The seven sections of the base, from `base_entity b`, as plain columns (`rows::BaseRow`).
macro_rules! base_columns {
    () => {
        "b.id, b.entity_type, b.external_id, b.created_at, b.updated_at, b.deleted_at, \
         b.status, b.version, b.version_hash, b.amendment_history, b.l0_compliance_status, \
         b.amendment_alignment, b.certification, b.append_only, b.tamper_proof, \
         b.hash_chain_sha256, b.tags, b.custom_attributes, b.governance_notes, b.parent_id, \
         b.child_ids, b.governance_agent_id"
    };
}

macro_rules! industry_select {
    () => {
        concat!(
            "select ",
            base_columns!(),
            ", k.name, k.description from industry k join base_entity b on b.id = k.id"
        )
    };
}

macro_rules! skill_select {
    () => {
        concat!(
            "select ",
            base_columns!(),
            ", k.name, k.description, k.category \
             from skill k join base_entity b on b.id = k.id"
        )
    };
}

macro_rules! job_role_select {
    () => {
        concat!(
            "select ",
            base_columns!(),
            ", k.name, k.description, k.seniority_level, k.industry_id, \
                 array(select s.skill_id from job_role_skill s where s.job_role_id = k.id \
                     order by s.position) as required_skills \
             from job_role k join base_entity b on b.id = k.id"
        )
    };
}

macro_rules! team_select {
    () => {
        concat!(
            "select ",
            base_columns!(),
            ", k.name, k.description, k.job_role_id, k.industry_id \
             from team k join base_entity b on b.id = k.id"
        )
    };
}

macro_rules! agent_select {
    () => {
        concat!(
            "select ",
            base_columns!(),
            ", k.name, k.description, k.skill_id, k.job_role_id, k.team_id, k.industry_id \
             from agent k join base_entity b on b.id = k.id"
        )
    };
}

macro_rules! trial_select {
    () => {
        "select jsonb_build_object(\
            'id', b.id, 'agent_id', b.agent_id, 'customer_name', b.customer_name, \
            'customer_email', b.customer_email, 'company', b.company, 'phone', b.phone, \
            'start_date', b.start_date, 'end_date', b.end_date, 'status', b.status, \
            'deliverables', coalesce((select jsonb_agg(jsonb_build_object(\
                    'id', d.id, 'title', d.title, 'description', d.description, 'url', d.url, \
                    'created_at', d.created_at) order by d.position) \
                from trial_deliverable d where d.trial_id = b.id), '[]'::jsonb), \
            'created_at', b.created_at, 'updated_at', b.updated_at, 'version', b.version, \
            'version_hash', encode(b.version_hash, 'hex')) \
         from trial b"
    };
}

macro_rules! job_select {
    () => {
        "select jsonb_build_object(\
            'id', b.id, 'agent_id', b.agent_id, 'trial_id', b.trial_id, 'title', b.title, \
            'input', b.input, 'status', b.status, 'output', b.output, 'error', b.error, \
            'created_at', b.created_at, 'updated_at', b.updated_at, \
            'started_at', b.started_at, 'finished_at', b.finished_at, 'version', b.version, \
            'version_hash', encode(b.version_hash, 'hex')) \
         from job b"
    };
}

// Filters. Catalog kinds: $1 status. See `read::bind_filters` for the order of the rest.
macro_rules! industry_where {
    () => {
        " where b.entity_type = 'Industry' and ($1::text is null or b.status = $1)"
    };
}
macro_rules! skill_where {
    () => {
        " where b.entity_type = 'Skill' and ($1::text is null or b.status = $1) \
            and ($2::text is null or k.category = $2)"
    };
}
macro_rules! job_role_where {
    () => {
        " where b.entity_type = 'JobRole' and ($1::text is null or b.status = $1) \
            and ($2::text is null or k.seniority_level = $2) \
            and ($3::uuid is null or k.industry_id = $3) \
            and ($4::uuid is null or exists (select 1 from job_role_skill s \
                where s.job_role_id = k.id and s.skill_id = $4))"
    };
}
macro_rules! team_where {
    () => {
        " where b.entity_type = 'Team' and ($1::text is null or b.status = $1) \
            and ($2::uuid is null or k.industry_id = $2) \
            and ($3::uuid is null or k.job_role_id = $3)"
    };
}
macro_rules! agent_where {
    () => {
        " where b.entity_type = 'Agent' and ($1::text is null or b.status = $1) \
            and ($2::uuid is null or k.industry_id = $2) \
            and ($3::uuid is null or k.job_role_id = $3) \
            and ($4::uuid is null or k.skill_id = $4) \
            and ($5::uuid is null or k.team_id = $5)"
    };
}
macro_rules! trial_where {
    () => {
        " where ($1::text is null or b.status = $1) \
            and ($2::uuid is null or b.agent_id = $2) \
            and ($3::text is null or b.customer_email = $3)"
    };
}
macro_rules! job_where {
    () => {
        " where ($1::text is null or b.status = $1) \
            and ($2::uuid is null or b.agent_id = $2) \
            and ($3::uuid is null or b.trial_id = $3)"
    };
}

/// The order, offset and limit of a first page, numbered after `$n` filters.
macro_rules! page {
    (1) => {
        " order by b.created_at, b.id offset $2 limit $3"
    };
    (2) => {
        " order by b.created_at, b.id offset $3 limit $4"
    };
    (3) => {
        " order by b.created_at, b.id offset $4 limit $5"
    };
    (4) => {
        " order by b.created_at, b.id offset $5 limit $6"
    };
    (5) => {
        " order by b.created_at, b.id offset $6 limit $7"
    };
}

/// A page after a cursor: the cursor, then order, offset and limit, numbered after `$n` filters.
/// A statement of its own, not `($c is null or (created_at, id) > …)`: that form keeps the
/// generic plan from seeking the `(created_at, id)` index, and every page then scans the whole
/// kind (80 ms a page at 100,000 skills), so reading a kind in pages grew with its square.
macro_rules! page_after {
    (1) => {
        " and (b.created_at, b.id) > ($2, $3::uuid) order by b.created_at, b.id offset $4 limit $5"
    };
    (2) => {
        " and (b.created_at, b.id) > ($3, $4::uuid) order by b.created_at, b.id offset $5 limit $6"
    };
    (3) => {
        " and (b.created_at, b.id) > ($4, $5::uuid) order by b.created_at, b.id offset $6 limit $7"
    };
    (4) => {
        " and (b.created_at, b.id) > ($5, $6::uuid) order by b.created_at, b.id offset $7 limit $8"
    };
    (5) => {
        " and (b.created_at, b.id) > ($6, $7::uuid) order by b.created_at, b.id offset $8 limit $9"
    };
}

/// The SQL for one kind: a record by id, a record by name, a page of a list (first, or after a
/// cursor), a count.
#[derive(Debug)]
pub(super) struct KindSql {
    pub by_id: &'static str,
    pub by_name: Option<&'static str>,
    /// A first page.
    pub list: &'static str,
    /// A page after a cursor.
    pub list_after: &'static str,
    pub count: &'static str,
}

pub(super) const INDUSTRY: KindSql = KindSql {
    by_id: concat!(industry_select!(), " where k.id = $1"),
    by_name: Some(concat!(industry_select!(), " where k.name_key = $1")),
    list: concat!(industry_select!(), industry_where!(), page!(1)),
    list_after: concat!(industry_select!(), industry_where!(), page_after!(1)),
    count: concat!(
        "select count(*) from industry k join base_entity b on b.id = k.id",
        industry_where!()
    ),
};

pub(super) const SKILL: KindSql = KindSql {
    by_id: concat!(skill_select!(), " where k.id = $1"),
    by_name: Some(concat!(skill_select!(), " where k.name_key = $1")),
    list: concat!(skill_select!(), skill_where!(), page!(2)),
    list_after: concat!(skill_select!(), skill_where!(), page_after!(2)),
    count: concat!(
        "select count(*) from skill k join base_entity b on b.id = k.id",
        skill_where!()
    ),
};

pub(super) const JOB_ROLE: KindSql = KindSql {
    by_id: concat!(job_role_select!(), " where k.id = $1"),
    by_name: Some(concat!(job_role_select!(), " where k.name_key = $1")),
    list: concat!(job_role_select!(), job_role_where!(), page!(4)),
    list_after: concat!(job_role_select!(), job_role_where!(), page_after!(4)),
    count: concat!(
        "select count(*) from job_role k join base_entity b on b.id = k.id",
        job_role_where!()
    ),
};

pub(super) const TEAM: KindSql = KindSql {
    by_id: concat!(team_select!(), " where k.id = $1"),
    by_name: Some(concat!(team_select!(), " where k.name_key = $1")),
    list: concat!(team_select!(), team_where!(), page!(3)),
    list_after: concat!(team_select!(), team_where!(), page_after!(3)),
    count: concat!(
        "select count(*) from team k join base_entity b on b.id = k.id",
        team_where!()
    ),
};

pub(super) const AGENT: KindSql = KindSql {
    by_id: concat!(agent_select!(), " where k.id = $1"),
    by_name: Some(concat!(agent_select!(), " where k.name_key = $1")),
    list: concat!(agent_select!(), agent_where!(), page!(5)),
    list_after: concat!(agent_select!(), agent_where!(), page_after!(5)),
    count: concat!(
        "select count(*) from agent k join base_entity b on b.id = k.id",
        agent_where!()
    ),
};

pub(super) const TRIAL: KindSql = KindSql {
    by_id: concat!(trial_select!(), " where b.id = $1"),
    by_name: None,
    list: concat!(trial_select!(), trial_where!(), page!(3)),
    list_after: concat!(trial_select!(), trial_where!(), page_after!(3)),
    count: concat!("select count(*) from trial b", trial_where!()),
};

pub(super) const JOB: KindSql = KindSql {
    by_id: concat!(job_select!(), " where b.id = $1"),
    by_name: None,
    list: concat!(job_select!(), job_where!(), page!(3)),
    list_after: concat!(job_select!(), job_where!(), page_after!(3)),
    count: concat!("select count(*) from job b", job_where!()),
};

/// The kind of whatever record has this id.
pub(super) const EXTERNAL_ID_OWNER: &str = "select id from base_entity where external_id = $1";

pub(super) const KIND_OF: &str = "select coalesce(\
    (select entity_type from base_entity where id = $1), \
    (select 'Trial' from trial where id = $1), \
    (select 'Job' from job where id = $1), \
    (select 'PrecedentSeed' from precedent_seed where id = $1))";

/// The `k` nearest neighbours of one searched kind, with filters: $1 the query vector,
/// $2 status, $3 industry, $4 k. Cosine similarity is `1 - cosine distance`.
///
/// The inner query orders by distance alone so that PostgreSQL can walk the HNSW index (a second
/// sort key would force a scan and a sort of the whole table); the outer one breaks ties by id.
pub(super) const SEARCH_INDUSTRY: &str = "select id, name, (1 - d)::real from (select k.id, k.name, k.embedding <=> $1 as d \
    from industry k join base_entity b on b.id = k.id \
    where k.embedding is not null and ($2::text is null or b.status = $2) \
      and ($3::uuid is null or k.id = $3) \
    order by k.embedding <=> $1 limit $4) nearest order by d, id";
pub(super) const SEARCH_SKILL: &str = "select id, name, (1 - d)::real from (select k.id, k.name, k.embedding <=> $1 as d \
    from skill k join base_entity b on b.id = k.id \
    where k.embedding is not null and ($2::text is null or b.status = $2) \
      and $3::uuid is null \
    order by k.embedding <=> $1 limit $4) nearest order by d, id";
pub(super) const SEARCH_JOB_ROLE: &str = "select id, name, (1 - d)::real from (select k.id, k.name, k.embedding <=> $1 as d \
    from job_role k join base_entity b on b.id = k.id \
    where k.embedding is not null and ($2::text is null or b.status = $2) \
      and ($3::uuid is null or k.industry_id = $3) \
    order by k.embedding <=> $1 limit $4) nearest order by d, id";
pub(super) const SEARCH_AGENT: &str = "select id, name, (1 - d)::real from (select k.id, k.name, k.embedding <=> $1 as d \
    from agent k join base_entity b on b.id = k.id \
    where k.embedding is not null and ($2::text is null or b.status = $2) \
      and ($3::uuid is null or k.industry_id = $3) \
    order by k.embedding <=> $1 limit $4) nearest order by d, id";

/// Hybrid and lexical search in one statement: the vector ranking (each table's HNSW index,
/// nearest $4) and the full-text ranking (`search_text @@ query`, GIN index, best $4 by
/// `ts_rank`) over the kinds in $5 with the status ($2) and industry ($3) filters, each ranked
/// across kinds and fused by reciprocal rank fusion (k = 60); the best $7 by fused score, ties by
/// id. $1 null: no vector ranking; $6 (the `to_tsquery` text) null: no full-text ranking.
/// Returns kind, id, name, the fused score and the `ts_rank` (null when not matched).
pub(super) const SEARCH_FUSED: &str = "with semantic as (\
  select kind, id, name, row_number() over (order by d, id) as r from (\
    (select 'Industry'::text as kind, k.id, k.name, k.embedding <=> $1 as d \
      from industry k join base_entity b on b.id = k.id \
      where 'Industry' = any($5) and $1::vector is not null and k.embedding is not null \
        and ($2::text is null or b.status = $2) and ($3::uuid is null or k.id = $3) \
      order by k.embedding <=> $1 limit $4) \
    union all \
    (select 'Skill'::text as kind, k.id, k.name, k.embedding <=> $1 as d \
      from skill k join base_entity b on b.id = k.id \
      where 'Skill' = any($5) and $1::vector is not null and k.embedding is not null \
        and ($2::text is null or b.status = $2) and $3::uuid is null \
      order by k.embedding <=> $1 limit $4) \
    union all \
    (select 'JobRole'::text as kind, k.id, k.name, k.embedding <=> $1 as d \
      from job_role k join base_entity b on b.id = k.id \
      where 'JobRole' = any($5) and $1::vector is not null and k.embedding is not null \
        and ($2::text is null or b.status = $2) and ($3::uuid is null or k.industry_id = $3) \
      order by k.embedding <=> $1 limit $4) \
    union all \
    (select 'Agent'::text as kind, k.id, k.name, k.embedding <=> $1 as d \
      from agent k join base_entity b on b.id = k.id \
      where 'Agent' = any($5) and $1::vector is not null and k.embedding is not null \
        and ($2::text is null or b.status = $2) and ($3::uuid is null or k.industry_id = $3) \
      order by k.embedding <=> $1 limit $4) \
  ) c), \
lexical as (\
  select kind, id, name, rank, row_number() over (order by rank desc, id) as r from (\
    (select 'Industry'::text as kind, k.id, k.name, ts_rank(k.search_text, to_tsquery('simple', $6)) as rank \
      from industry k join base_entity b on b.id = k.id \
      where 'Industry' = any($5) and k.search_text @@ to_tsquery('simple', $6) \
        and ($2::text is null or b.status = $2) and ($3::uuid is null or k.id = $3) \
      order by rank desc, k.id limit $4) \
    union all \
    (select 'Skill'::text as kind, k.id, k.name, ts_rank(k.search_text, to_tsquery('simple', $6)) as rank \
      from skill k join base_entity b on b.id = k.id \
      where 'Skill' = any($5) and k.search_text @@ to_tsquery('simple', $6) \
        and ($2::text is null or b.status = $2) and $3::uuid is null \
      order by rank desc, k.id limit $4) \
    union all \
    (select 'JobRole'::text as kind, k.id, k.name, ts_rank(k.search_text, to_tsquery('simple', $6)) as rank \
      from job_role k join base_entity b on b.id = k.id \
      where 'JobRole' = any($5) and k.search_text @@ to_tsquery('simple', $6) \
        and ($2::text is null or b.status = $2) and ($3::uuid is null or k.industry_id = $3) \
      order by rank desc, k.id limit $4) \
    union all \
    (select 'Agent'::text as kind, k.id, k.name, ts_rank(k.search_text, to_tsquery('simple', $6)) as rank \
      from agent k join base_entity b on b.id = k.id \
      where 'Agent' = any($5) and k.search_text @@ to_tsquery('simple', $6) \
        and ($2::text is null or b.status = $2) and ($3::uuid is null or k.industry_id = $3) \
      order by rank desc, k.id limit $4) \
  ) c), \
fused as (\
  select kind, id, name, 1.0::float8 / (60 + r) as part, null::real as rank from semantic where r <= $4 \
  union all \
  select kind, id, name, 1.0::float8 / (60 + r), rank from lexical where r <= $4) \
select kind, id, name, sum(part) as score, max(rank) as rank from fused \
group by kind, id, name order by score desc, id limit $7";

/// Searched records whose embedding is missing or from another model ($1), oldest first, at
/// most $2.
pub(super) const STALE_EMBEDDINGS: &str = "select entity_type, id from (\
    select b.entity_type, b.id, b.created_at from base_entity b \
    left join industry i on i.id = b.id left join skill s on s.id = b.id \
    left join job_role r on r.id = b.id left join agent a on a.id = b.id \
    where b.entity_type in ('Industry', 'Skill', 'JobRole', 'Agent') \
      and coalesce(i.embedding_model, s.embedding_model, r.embedding_model, a.embedding_model) \
          is distinct from $1 \
    union all \
    select 'PrecedentSeed', p.id, p.created_at from precedent_seed p \
    where p.embedding_model is distinct from $1) stale \
    order by created_at, id limit $2";

/// The columns of an audit entry, in `AuditRow` order.
macro_rules! audit_columns {
    () => {
        "seq, entity_id, entity_type, entity_version, action, actor, at, payload, prev_hash, hash"
    };
}

pub(super) const ENTITY_ENTRIES: &str = concat!(
    "select ",
    audit_columns!(),
    " from audit_log where entity_id = $1 order by seq"
);
pub(super) const AUDIT_ENTRIES: &str = concat!(
    "select ",
    audit_columns!(),
    " from audit_log where seq > $1 order by seq limit $2"
);
pub(super) const HEAD: &str = "select seq, hash from audit_head";
pub(super) const LOCK_HEAD: &str = "select seq, hash from audit_head where id for update";

/// The columns of `audit_log`, in the order entries are read and appended.
pub(super) const AUDIT_COLUMNS: &str = audit_columns!();

/// Stores vectors of one kind's records ($1 ids, $2 vectors, $3 model ids, $4 the versions whose
/// text each was computed from), each only while its record is at that version; returns the ids
/// and versions stored. `id = any($1)` keeps each lookup an index lookup whatever the planner
/// estimates for the unnested arrays, where a join alone was planned as a scan of the whole table.
macro_rules! put_vectors_at {
    ($table:literal) => {
        concat!(
            "update ",
            $table,
            " k set embedding = v.embedding, embedding_model = v.model \
             from unnest($1::uuid[], $2::vector[], $3::text[], $4::bigint[]) \
                as v(id, embedding, model, version), base_entity b \
             where k.id = v.id and k.id = any($1::uuid[]) and b.id = v.id \
                and b.id = any($1::uuid[]) and b.version = v.version \
             returning k.id, b.version"
        )
    };
}
pub(super) use put_vectors_at;

/// Trials created together (`write::stage_creations`): the columns `write_trial` inserts
/// one by one, one array each; `$13`, the zero hash, stands until the append sets each trial's.
pub(super) const INSERT_TRIALS: &str = "insert into trial (id, agent_id, customer_name, \
    customer_email, company, phone, start_date, end_date, status, created_at, updated_at, version, \
    version_hash) \
    select id, agent_id, customer_name, customer_email, company, phone, start_date, end_date, \
        status, created_at, updated_at, version, $13::bytea \
    from unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], \
        $7::timestamptz[], $8::timestamptz[], $9::text[], $10::timestamptz[], $11::timestamptz[], \
        $12::bigint[]) as t(id, agent_id, customer_name, customer_email, company, phone, \
        start_date, end_date, status, created_at, updated_at, version)";

/// Jobs created together (`write::stage_creations`), as `INSERT_TRIALS` for trials.
pub(super) const INSERT_JOBS: &str = "insert into job (id, agent_id, trial_id, title, input, \
    status, output, error, created_at, updated_at, started_at, finished_at, version, version_hash) \
    select id, agent_id, trial_id, title, input, status, output, error, created_at, updated_at, \
        started_at, finished_at, version, $14::bytea \
    from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::jsonb[], $6::text[], \
        $7::jsonb[], $8::text[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[], \
        $12::timestamptz[], $13::bigint[]) as j(id, agent_id, trial_id, title, input, status, \
        output, error, created_at, updated_at, started_at, finished_at, version)";

pub(super) const INSERT_CHECKPOINT: &str = "insert into audit_checkpoint \
    (seq, hash, signed_at, public_key, signature) values ($1, $2, $3, $4, $5) \
    on conflict on constraint audit_checkpoint_pkey do nothing";
pub(super) const CHECKPOINTS: &str = "select seq, hash, signed_at, public_key, signature \
    from audit_checkpoint order by seq, signed_at, public_key";
pub(super) const NEWEST_CHECKPOINT: &str = "select seq, hash, signed_at, public_key, signature \
    from audit_checkpoint order by signed_at desc, seq desc limit 1";

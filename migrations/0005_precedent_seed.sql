-- Precedent seeds: governance decisions that certification applies and cites. Outside the
-- BaseEntity family, audited the same way (version, version_hash). Seeds link to each other by
-- their human-readable `seed_id`: a lineage is a line that never closes into a cycle.

create table precedent_seed (
    id uuid not null,
    seed_id text not null,
    title text not null,
    content text not null,
    applies_to text[] not null,
    status text not null,
    supersedes text,
    superseded_by text,
    approving_governor_id text,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    version bigint not null,
    version_hash bytea not null,
    embedding vector(384),
    embedding_model text,

    constraint precedent_seed_pkey primary key (id),
    constraint precedent_seed_seed_id_key unique (seed_id),
    constraint precedent_seed_supersedes_fk foreign key (supersedes)
        references precedent_seed (seed_id),
    constraint precedent_seed_superseded_by_fk foreign key (superseded_by)
        references precedent_seed (seed_id),
    constraint precedent_seed_seed_id_check check (seed_id ~ '^[A-Z][A-Z0-9-]{0,31}$'),
    constraint precedent_seed_not_self_check check (
        supersedes is distinct from seed_id and superseded_by is distinct from seed_id
    ),
    constraint precedent_seed_status_check check (
        status in ('pending_review', 'active', 'superseded', 'deprecated', 'archived')
    ),
    constraint precedent_seed_applies_to_check check (
        cardinality(applies_to) >= 1
        and applies_to <@ array['Skill', 'JobRole', 'Team', 'Agent']::text[]
    ),
    constraint precedent_seed_title_check check (btrim(title) <> ''),
    constraint precedent_seed_content_check check (btrim(content) <> ''),
    constraint precedent_seed_version_check check (version >= 1),
    constraint precedent_seed_version_hash_check check (octet_length(version_hash) = 32)
);
create index precedent_seed_created_idx on precedent_seed (created_at, id);
create index precedent_seed_status_idx on precedent_seed (status);
create index precedent_seed_embedding_idx on precedent_seed
    using hnsw (embedding vector_cosine_ops);

-- Only forward: pending_review -> active -> superseded -> deprecated -> archived (steps may be
-- skipped). The old status goes in DETAIL and the new one in HINT.
create function precedent_seed_check_transition() returns trigger
language plpgsql as $$
declare
    rank_of constant text[] := array['pending_review', 'active', 'superseded', 'deprecated',
                                     'archived'];
begin
    if new.status is distinct from old.status
       and array_position(rank_of, new.status) < array_position(rank_of, old.status) then
        raise exception 'a precedent seed cannot go from % to %', old.status, new.status
            using errcode = 'check_violation',
                  constraint = 'precedent_seed_status_transition',
                  table = 'precedent_seed',
                  column = 'status',
                  detail = old.status,
                  hint = new.status;
    end if;
    return new;
end;
$$;

create trigger precedent_seed_status_transition
    before update of status on precedent_seed
    for each row execute function precedent_seed_check_transition();

-- Refuses a link that closes a cycle: following `supersedes` (or `superseded_by`) from the new
-- row must never lead back to it.
create function precedent_seed_check_cycle() returns trigger
language plpgsql as $$
begin
    if exists (
        with recursive older(seed_id, depth) as (
            select new.supersedes, 1
            union all
            select p.supersedes, o.depth + 1
            from older o join precedent_seed p on p.seed_id = o.seed_id
            where p.supersedes is not null and o.depth < 100000
        )
        select 1 from older where seed_id = new.seed_id
    ) or exists (
        with recursive newer(seed_id, depth) as (
            select new.superseded_by, 1
            union all
            select p.superseded_by, n.depth + 1
            from newer n join precedent_seed p on p.seed_id = n.seed_id
            where p.superseded_by is not null and n.depth < 100000
        )
        select 1 from newer where seed_id = new.seed_id
    ) then
        raise exception 'precedent seed % would close a supersession cycle', new.seed_id
            using errcode = 'check_violation',
                  constraint = 'precedent_seed_no_cycle',
                  table = 'precedent_seed';
    end if;
    return new;
end;
$$;

create trigger precedent_seed_no_cycle
    before insert or update of supersedes, superseded_by on precedent_seed
    for each row execute function precedent_seed_check_cycle();

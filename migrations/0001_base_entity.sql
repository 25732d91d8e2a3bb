-- The shared part of every catalog entity: the seven sections of the Base.
-- Each kind's table (0002) holds its own columns and points back here with an `id` that is
-- both its primary key and a foreign key to base_entity(id, entity_type), so a skill row can
-- only sit on a base row whose entity_type is 'Skill'.
-- Constraints are named explicitly: the store maps these names to typed errors.

create extension if not exists vector;

create table base_entity (
    -- identity
    id uuid not null,
    entity_type text not null,
    external_id text,
    -- lifecycle
    created_at timestamptz not null,
    updated_at timestamptz not null,
    deleted_at timestamptz,
    status text not null,
    -- versioning
    version bigint not null,
    version_hash bytea not null,
    amendment_history jsonb not null default '[]',
    -- constitutional
    l0_compliance_status jsonb not null default '{}',
    amendment_alignment text not null,
    certification jsonb not null,
    -- The state, kept in step with the certification record so that the database checks it and
    -- lists can filter on it.
    certification_status text generated always as (certification ->> 'status') stored,
    -- audit
    append_only boolean not null default true,
    tamper_proof boolean not null default true,
    hash_chain_sha256 jsonb not null default '[]',
    -- metadata
    tags text[] not null default '{}',
    custom_attributes jsonb not null default '{}',
    governance_notes text,
    -- relationships
    parent_id uuid,
    child_ids uuid[] not null default '{}',
    governance_agent_id text,

    constraint base_entity_pkey primary key (id),
    constraint base_entity_id_type_key unique (id, entity_type),
    constraint base_entity_external_id_key unique (external_id),
    constraint base_entity_entity_type_check
        check (entity_type in ('Industry', 'Skill', 'JobRole', 'Team', 'Agent')),
    constraint base_entity_status_check check (status in ('active', 'archived', 'deleted')),
    constraint base_entity_version_check check (version >= 1),
    constraint base_entity_version_hash_check check (octet_length(version_hash) = 32),
    constraint base_entity_amendment_alignment_check
        check (amendment_alignment in ('aligned', 'drifted', 'requires_review')),
    constraint base_entity_certification_status_check
        check (certification_status in ('pending_certification', 'certified', 'rejected')),
    constraint base_entity_amendment_history_check check (jsonb_typeof(amendment_history) = 'array'),
    constraint base_entity_l0_compliance_status_check
        check (jsonb_typeof(l0_compliance_status) = 'object'),
    constraint base_entity_certification_check check (jsonb_typeof(certification) = 'object'),
    constraint base_entity_hash_chain_sha256_check check (jsonb_typeof(hash_chain_sha256) = 'array'),
    constraint base_entity_custom_attributes_check check (jsonb_typeof(custom_attributes) = 'object'),
    constraint base_entity_tags_check check (array_position(tags, null) is null),
    constraint base_entity_child_ids_check check (array_position(child_ids, null) is null)
);

-- Lists are ordered by (created_at, id) and filtered by kind and status.
create index base_entity_type_created_idx on base_entity (entity_type, created_at, id);
-- parent_id and child_ids may name records outside the catalog (governance links), so they are
-- not foreign keys; the kinds' own references below are.
create index base_entity_parent_idx on base_entity (parent_id) where parent_id is not null;

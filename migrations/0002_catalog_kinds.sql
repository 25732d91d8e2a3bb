-- The five kinds, joined to base_entity. Every kind's `entity_type` column is fixed to its kind
-- and, with `id`, references base_entity(id, entity_type): the base row must be of that kind.
-- Names are unique per kind regardless of case. Embeddings are 384-dimensional (all-MiniLM-L6-v2
-- or the hashing embedder) and indexed with HNSW for cosine distance.

create table industry (
    id uuid not null,
    entity_type text not null default 'Industry',
    name text not null,
    description text not null default '',
    embedding vector(384),
    embedding_model text,

    constraint industry_pkey primary key (id),
    constraint industry_entity_type_check check (entity_type = 'Industry'),
    constraint industry_base_fk foreign key (id, entity_type)
        references base_entity (id, entity_type),
    constraint industry_name_check check (btrim(name) <> '')
);
create unique index industry_name_key on industry (lower(name));
create index industry_embedding_idx on industry using hnsw (embedding vector_cosine_ops);

create table skill (
    id uuid not null,
    entity_type text not null default 'Skill',
    name text not null,
    description text not null,
    category text not null,
    embedding vector(384),
    embedding_model text,

    constraint skill_pkey primary key (id),
    constraint skill_entity_type_check check (entity_type = 'Skill'),
    constraint skill_base_fk foreign key (id, entity_type) references base_entity (id, entity_type),
    constraint skill_name_check check (btrim(name) <> ''),
    constraint skill_category_check
        check (category in ('technical', 'soft_skill', 'domain_expertise', 'certification'))
);
create unique index skill_name_key on skill (lower(name));
create index skill_category_idx on skill (category);
create index skill_embedding_idx on skill using hnsw (embedding vector_cosine_ops);

create table job_role (
    id uuid not null,
    entity_type text not null default 'JobRole',
    name text not null,
    description text not null default '',
    seniority_level text not null,
    industry_id uuid,
    embedding vector(384),
    embedding_model text,

    constraint job_role_pkey primary key (id),
    constraint job_role_entity_type_check check (entity_type = 'JobRole'),
    constraint job_role_base_fk foreign key (id, entity_type)
        references base_entity (id, entity_type),
    constraint job_role_name_check check (btrim(name) <> ''),
    constraint job_role_seniority_level_check
        check (seniority_level in ('junior', 'mid', 'senior')),
    constraint job_role_industry_fk foreign key (industry_id) references industry (id)
);
create unique index job_role_name_key on job_role (lower(name));
create index job_role_industry_idx on job_role (industry_id);
create index job_role_embedding_idx on job_role using hnsw (embedding vector_cosine_ops);

-- A job role's required skills, in the order they were given (the order is part of the record).
create table job_role_skill (
    job_role_id uuid not null,
    position integer not null,
    skill_id uuid not null,

    constraint job_role_skill_pkey primary key (job_role_id, position),
    constraint job_role_skill_position_check check (position >= 0),
    constraint job_role_skill_job_role_fk foreign key (job_role_id)
        references job_role (id) on delete cascade,
    constraint job_role_skill_skill_fk foreign key (skill_id) references skill (id)
);
create index job_role_skill_skill_idx on job_role_skill (skill_id);

create table team (
    id uuid not null,
    entity_type text not null default 'Team',
    name text not null,
    description text not null default '',
    job_role_id uuid not null,
    industry_id uuid,

    constraint team_pkey primary key (id),
    constraint team_entity_type_check check (entity_type = 'Team'),
    constraint team_base_fk foreign key (id, entity_type) references base_entity (id, entity_type),
    constraint team_name_check check (btrim(name) <> ''),
    constraint team_job_role_fk foreign key (job_role_id) references job_role (id),
    constraint team_industry_fk foreign key (industry_id) references industry (id)
);
create unique index team_name_key on team (lower(name));
create index team_job_role_idx on team (job_role_id);
create index team_industry_idx on team (industry_id);

create table agent (
    id uuid not null,
    entity_type text not null default 'Agent',
    name text not null,
    description text not null default '',
    skill_id uuid not null,
    job_role_id uuid not null,
    team_id uuid,
    industry_id uuid not null,
    embedding vector(384),
    embedding_model text,

    constraint agent_pkey primary key (id),
    constraint agent_entity_type_check check (entity_type = 'Agent'),
    constraint agent_base_fk foreign key (id, entity_type) references base_entity (id, entity_type),
    constraint agent_name_check check (btrim(name) <> ''),
    constraint agent_skill_fk foreign key (skill_id) references skill (id),
    constraint agent_job_role_fk foreign key (job_role_id) references job_role (id),
    constraint agent_team_fk foreign key (team_id) references team (id),
    constraint agent_industry_fk foreign key (industry_id) references industry (id)
);
create unique index agent_name_key on agent (lower(name));
create index agent_industry_idx on agent (industry_id);
create index agent_job_role_idx on agent (job_role_id);
create index agent_skill_idx on agent (skill_id);
create index agent_team_idx on agent (team_id);
create index agent_embedding_idx on agent using hnsw (embedding vector_cosine_ops);

-- Industry locking: once an agent has an industry it keeps it. The error carries the constraint
-- name `agent_industry_locked`, which the store maps like any other constraint.
create function agent_keep_industry() returns trigger
language plpgsql as $$
begin
    if old.industry_id is not null and new.industry_id is distinct from old.industry_id then
        raise exception 'agent % is locked to industry %', old.id, old.industry_id
            using errcode = 'check_violation',
                  constraint = 'agent_industry_locked',
                  table = 'agent',
                  column = 'industry_id';
    end if;
    return new;
end;
$$;

create trigger agent_industry_locked
    before update of industry_id on agent
    for each row execute function agent_keep_industry();

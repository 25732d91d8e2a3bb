-- Trials and jobs: outside the BaseEntity family, audited the same way (version, version_hash).

create table trial (
    id uuid not null,
    agent_id uuid not null,
    customer_name text not null,
    customer_email text not null,
    company text not null,
    phone text,
    start_date timestamptz not null,
    end_date timestamptz not null,
    status text not null,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    version bigint not null,
    version_hash bytea not null,

    constraint trial_pkey primary key (id),
    constraint trial_agent_fk foreign key (agent_id) references agent (id),
    constraint trial_status_check check (status in ('active', 'converted', 'cancelled', 'expired')),
    constraint trial_dates_check check (end_date > start_date),
    constraint trial_customer_name_check check (btrim(customer_name) <> ''),
    constraint trial_customer_email_check check (position('@' in customer_email) > 1),
    constraint trial_version_check check (version >= 1),
    constraint trial_version_hash_check check (octet_length(version_hash) = 32)
);
create index trial_agent_idx on trial (agent_id);
create index trial_customer_email_idx on trial (lower(customer_email));
create index trial_created_idx on trial (created_at, id);

-- What an agent produced during a trial, in order.
create table trial_deliverable (
    id uuid not null,
    trial_id uuid not null,
    position integer not null,
    title text not null,
    content jsonb not null default '{}',
    created_at timestamptz not null,

    constraint trial_deliverable_pkey primary key (id),
    constraint trial_deliverable_trial_fk foreign key (trial_id) references trial (id),
    constraint trial_deliverable_position_key unique (trial_id, position),
    constraint trial_deliverable_position_check check (position >= 0)
);

create table job (
    id uuid not null,
    agent_id uuid not null,
    trial_id uuid,
    title text not null,
    input jsonb not null default '{}',
    output jsonb,
    error text,
    status text not null,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    version bigint not null,
    version_hash bytea not null,

    constraint job_pkey primary key (id),
    constraint job_agent_fk foreign key (agent_id) references agent (id),
    constraint job_trial_fk foreign key (trial_id) references trial (id),
    constraint job_status_check
        check (status in ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    constraint job_title_check check (btrim(title) <> ''),
    constraint job_version_check check (version >= 1),
    constraint job_version_hash_check check (octet_length(version_hash) = 32)
);
create index job_agent_idx on job (agent_id, created_at, id);
create index job_trial_idx on job (trial_id) where trial_id is not null;
create index job_created_idx on job (created_at, id);

-- Trials and jobs: outside the BaseEntity family, audited the same way (version, version_hash).
-- Their status machines are enforced here too; a refused move names its constraint
-- (`trial_status_transition`, `job_status_transition`) and carries the old status as DETAIL
-- and the new one as HINT.

create table trial (
    id uuid not null,
    agent_id uuid not null,
    customer_name text not null,
    customer_email text not null,
    company text,
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
    constraint trial_dates_check check (end_date >= start_date),
    constraint trial_customer_name_check check (btrim(customer_name) <> ''),
    constraint trial_customer_email_check check (position('@' in customer_email) > 1),
    constraint trial_version_check check (version >= 1),
    constraint trial_version_hash_check check (octet_length(version_hash) = 32)
);
create index trial_agent_idx on trial (agent_id);
create index trial_customer_email_idx on trial (customer_email);
create index trial_created_idx on trial (created_at, id);

-- What an agent delivered during a trial, in order. Part of the trial's record: rewritten with
-- it on every change.
create table trial_deliverable (
    trial_id uuid not null,
    position integer not null,
    id uuid not null,
    title text not null,
    description text not null default '',
    url text,
    created_at timestamptz not null,

    constraint trial_deliverable_pkey primary key (trial_id, position),
    constraint trial_deliverable_trial_fk foreign key (trial_id)
        references trial (id) on delete cascade,
    constraint trial_deliverable_position_check check (position >= 0),
    constraint trial_deliverable_title_check check (btrim(title) <> '')
);

create table job (
    id uuid not null,
    agent_id uuid not null,
    trial_id uuid,
    title text not null,
    input jsonb,
    status text not null,
    output jsonb,
    error text,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    started_at timestamptz,
    finished_at timestamptz,
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

-- active -> converted | cancelled | expired; the final states stay where they are.
create function trial_check_transition() returns trigger
language plpgsql as $$
begin
    if new.status is distinct from old.status and old.status <> 'active' then
        raise exception 'a trial cannot go from % to %', old.status, new.status
            using errcode = 'check_violation',
                  constraint = 'trial_status_transition',
                  table = 'trial',
                  column = 'status',
                  detail = old.status,
                  hint = new.status;
    end if;
    return new;
end;
$$;

create trigger trial_status_transition
    before update of status on trial
    for each row execute function trial_check_transition();

-- queued -> running | cancelled; running -> succeeded | failed | cancelled.
create function job_check_transition() returns trigger
language plpgsql as $$
begin
    if new.status is distinct from old.status and not (
        (old.status = 'queued' and new.status in ('running', 'cancelled'))
        or (old.status = 'running' and new.status in ('succeeded', 'failed', 'cancelled'))
    ) then
        raise exception 'a job cannot go from % to %', old.status, new.status
            using errcode = 'check_violation',
                  constraint = 'job_status_transition',
                  table = 'job',
                  column = 'status',
                  detail = old.status,
                  hint = new.status;
    end if;
    return new;
end;
$$;

create trigger job_status_transition
    before update of status on job
    for each row execute function job_check_transition();

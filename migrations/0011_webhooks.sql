-- Webhook subscriptions and their delivery log. A subscription's audited changes go to
-- audit_log like every other change (entity_type 'WebhookSubscription'); these tables hold
-- what the worker moves on every delivery (cursor, retry state, lease) and the signing secrets,
-- which never enter the chain.

create table webhook_subscription (
    id uuid not null,
    url text not null,
    kinds text[] not null default '{}',
    actions text[] not null default '{}',
    state text not null,
    -- The last seq delivered, or passed over by the filter.
    delivered_seq bigint not null,
    -- Failed attempts at the entry after delivered_seq.
    attempt integer not null default 0,
    next_attempt_at timestamptz not null,
    -- [{"secret": "whsec_…", "expires_at": null | timestamp}], the current secret first.
    signing_keys jsonb not null,
    version bigint not null,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    -- The worker (one per process) delivering it now, until lease_until.
    lease_owner uuid,
    lease_until timestamptz,

    constraint webhook_subscription_pkey primary key (id),
    constraint webhook_subscription_state_check check (state in ('active', 'failing', 'paused')),
    constraint webhook_subscription_delivered_seq_check check (delivered_seq >= 0),
    constraint webhook_subscription_attempt_check check (attempt >= 0),
    constraint webhook_subscription_version_check check (version >= 1),
    constraint webhook_subscription_signing_keys_check check (jsonb_typeof(signing_keys) = 'array')
);

create index webhook_subscription_due_idx on webhook_subscription (next_attempt_at)
    where state = 'active';

create table webhook_delivery (
    id bigint generated always as identity,
    subscription_id uuid not null,
    seq bigint not null,
    webhook_id text not null,
    attempt integer not null,
    at timestamptz not null,
    status_code integer,
    latency_ms bigint not null,
    error text,
    next_retry_at timestamptz,

    constraint webhook_delivery_pkey primary key (id),
    constraint webhook_delivery_subscription_fkey foreign key (subscription_id)
        references webhook_subscription (id) on delete cascade,
    constraint webhook_delivery_attempt_check check (attempt >= 1),
    constraint webhook_delivery_status_code_check check (status_code between 100 and 599)
);

create index webhook_delivery_subscription_idx on webhook_delivery (subscription_id, id desc);

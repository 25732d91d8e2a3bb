-- The global audit chain. Columns mirror plant_core::audit::AuditEntry exactly. `payload` is the
-- canonical JSON text that was hashed, kept byte for byte: `text`, never `jsonb`, which would
-- reorder keys and normalise numbers and so break the hash.

create table audit_log (
    seq bigint not null,
    entity_id uuid not null,
    entity_type text not null,
    entity_version bigint not null,
    action text not null,
    actor text not null,
    at timestamptz not null,
    payload text not null,
    prev_hash bytea not null,
    hash bytea not null,

    constraint audit_log_pkey primary key (seq),
    constraint audit_log_seq_check check (seq >= 1),
    constraint audit_log_entity_version_check check (entity_version >= 1),
    constraint audit_log_prev_hash_check check (octet_length(prev_hash) = 32),
    constraint audit_log_hash_check check (octet_length(hash) = 32),
    constraint audit_log_entity_version_key unique (entity_id, entity_version)
);

-- The chain's head: one row, taken `for update` by every writer in the same transaction as its
-- entity write, so any number of processes append one gap-free chain.
create table audit_head (
    id boolean not null default true,
    seq bigint not null,
    hash bytea not null,

    constraint audit_head_pkey primary key (id),
    constraint audit_head_single_row_check check (id),
    constraint audit_head_seq_check check (seq >= 0),
    constraint audit_head_hash_check check (octet_length(hash) = 32)
);
insert into audit_head (id, seq, hash) values (true, 0, decode(repeat('00', 32), 'hex'));

-- Signed statements of (seq, hash) of the head at some time; only these reveal a truncated tail
-- or a rewritten history.
create table audit_checkpoint (
    seq bigint not null,
    hash bytea not null,
    signed_at timestamptz not null,
    public_key bytea not null,
    signature bytea not null,

    constraint audit_checkpoint_pkey primary key (seq, public_key),
    constraint audit_checkpoint_seq_check check (seq >= 0),
    constraint audit_checkpoint_hash_check check (octet_length(hash) = 32),
    constraint audit_checkpoint_public_key_check check (octet_length(public_key) = 32),
    constraint audit_checkpoint_signature_check check (octet_length(signature) = 64)
);

-- The log and its checkpoints are append-only, enforced by the database itself.
create function audit_refuse_change() returns trigger
language plpgsql as $$
begin
    raise exception '% is append-only: % refused', tg_table_name, tg_op
        using errcode = 'insufficient_privilege',
              constraint = tg_table_name || '_append_only';
end;
$$;

create trigger audit_log_append_only
    before update or delete on audit_log
    for each row execute function audit_refuse_change();
create trigger audit_log_no_truncate
    before truncate on audit_log
    for each statement execute function audit_refuse_change();
create trigger audit_checkpoint_append_only
    before update or delete on audit_checkpoint
    for each row execute function audit_refuse_change();
create trigger audit_checkpoint_no_truncate
    before truncate on audit_checkpoint
    for each statement execute function audit_refuse_change();

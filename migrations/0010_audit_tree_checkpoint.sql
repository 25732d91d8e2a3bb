-- Signed C2SP checkpoints of the audit log's Merkle tree (RFC 9162 hashing; the leaves are the
-- entries' link hashes in seq order). `note` is the signed note exactly as signed: origin line,
-- tree size, base64 root, a blank line, the log's signature line. `tree_size` and `root_hash`
-- repeat what the note signs so that lookups need not parse it. The older `(seq, hash)`
-- checkpoints stay in audit_checkpoint and keep being verified.

create table audit_tree_checkpoint (
    id bigint generated always as identity,
    tree_size bigint not null,
    root_hash bytea not null,
    note text not null,
    signed_at timestamptz not null,

    constraint audit_tree_checkpoint_pkey primary key (id),
    constraint audit_tree_checkpoint_note_key unique (note),
    constraint audit_tree_checkpoint_tree_size_check check (tree_size >= 0),
    constraint audit_tree_checkpoint_root_hash_check check (octet_length(root_hash) = 32)
);

create trigger audit_tree_checkpoint_append_only
    before update or delete on audit_tree_checkpoint
    for each row execute function audit_refuse_change();
create trigger audit_tree_checkpoint_no_truncate
    before truncate on audit_tree_checkpoint
    for each statement execute function audit_refuse_change();

-- Change feed: every move of the chain's head notifies `plant_audit` with the new seq. NOTIFY
-- is transactional — delivered on commit, dropped on rollback — so a listener (any server
-- instance) hears of an entry only once it can read it, whichever process wrote it.

create function audit_head_notify() returns trigger
language plpgsql as $$
begin
    perform pg_notify('plant_audit', new.seq::text);
    return new;
end;
$$;

create trigger audit_head_notify
    after update of seq on audit_head
    for each row execute function audit_head_notify();

-- One change per transaction: lock the head, append one entry, move the head, commit.
begin;
select seq from pgbench_chain.head where id for update;
with e as (insert into pgbench_chain.log select h.seq + 1, repeat(md5(random()::text), 19) from pgbench_chain.head h returning seq) update pgbench_chain.head set seq = e.seq from e;
end;

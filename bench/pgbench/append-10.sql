-- Ten changes per transaction (group commit): lock the head once, append ten entries in one
-- statement, move the head, commit once.
begin;
select seq from pgbench_chain.head where id for update;
with e as (insert into pgbench_chain.log select h.seq + i, repeat(md5(random()::text), 19) from pgbench_chain.head h, generate_series(1, 10) i returning seq) update pgbench_chain.head set seq = (select max(seq) from e);
end;

-- The SQL ceiling of an audited write: the shape of the chain append without the application.
-- One head row taken `for update`, one ~600-byte entry per change (the size of a skill's audit
-- entry), in a schema of its own so that it never meets plant's tables.
drop schema if exists pgbench_chain cascade;
create schema pgbench_chain;
create table pgbench_chain.head (id boolean primary key, seq bigint not null);
insert into pgbench_chain.head values (true, 0);
create table pgbench_chain.log (seq bigint primary key, payload text not null);

-- Names that look alike are the same name. Each kind's row keeps `name_key`, the folded key its
-- names are unique by (NFKC, case folded, invisible characters dropped; for agents also the
-- confusable skeleton of Unicode TS #39), computed by the application (plant_core::model::
-- unique_key) because PostgreSQL has no confusable skeleton and its lower() is not Rust's.
--
-- The column is nullable so that this migration can run on a database with rows: `migrate`
-- (plant-cli migrate, plant_core::store::postgres::migrate) fills the key of every row that has
-- none right after the migrations, under the same advisory lock, and fails — naming both rows —
-- when two existing names share a key (rename one, then migrate again). The unique indexes
-- exist from this migration on, so a row written by the application (which always writes the
-- key) can never share a key with another; NULLs never collide, so existing rows do not block
-- the index while they wait for the fill. The case-insensitive `*_name_key` indexes of 0002 stay:
-- they are implied by these for everything the application writes.

alter table industry add column name_key text;
alter table skill add column name_key text;
alter table job_role add column name_key text;
alter table team add column name_key text;
alter table agent add column name_key text;

create unique index industry_name_fold_key on industry (name_key);
create unique index skill_name_fold_key on skill (name_key);
create unique index job_role_name_fold_key on job_role (name_key);
create unique index team_name_fold_key on team (name_key);
create unique index agent_name_fold_key on agent (name_key);

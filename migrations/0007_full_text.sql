-- Full-text search for hybrid search: a generated tsvector per searched kind, the name weighted
-- A and the description B, with a GIN index. The `simple` configuration (lowercase, no
-- stemming, no stop words): the full-text half is for exact names, acronyms and rare words,
-- which the vector half blurs; stop words are dropped from queries by the application
-- (plant-core `search::lexical`), which also ranks the same way for the in-memory store.
alter table industry add column search_text tsvector generated always as (
    setweight(to_tsvector('simple', name), 'A') || setweight(to_tsvector('simple', description), 'B')
) stored;
create index industry_search_text_idx on industry using gin (search_text);

alter table skill add column search_text tsvector generated always as (
    setweight(to_tsvector('simple', name), 'A') || setweight(to_tsvector('simple', description), 'B')
) stored;
create index skill_search_text_idx on skill using gin (search_text);

alter table job_role add column search_text tsvector generated always as (
    setweight(to_tsvector('simple', name), 'A') || setweight(to_tsvector('simple', description), 'B')
) stored;
create index job_role_search_text_idx on job_role using gin (search_text);

alter table agent add column search_text tsvector generated always as (
    setweight(to_tsvector('simple', name), 'A') || setweight(to_tsvector('simple', description), 'B')
) stored;
create index agent_search_text_idx on agent using gin (search_text);

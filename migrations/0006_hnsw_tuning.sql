-- Denser HNSW graphs for the searched kinds: m = 32, ef_construction = 128 (pgvector's defaults
-- are 16 and 64). Over 100k agents the default index reached recall@10 0.78 at
-- hnsw.ef_search = 100 and 0.91 at 400; this one reaches 0.96 at 400, the store's default
-- ef_search (bench/search/README.md). The indexes keep their names; `if exists` lets the file
-- run over a database whose index was dropped by hand (the search benchmark does that).
drop index if exists agent_embedding_idx;
create index agent_embedding_idx on agent
    using hnsw (embedding vector_cosine_ops) with (m = 32, ef_construction = 128);

drop index if exists industry_embedding_idx;
create index industry_embedding_idx on industry
    using hnsw (embedding vector_cosine_ops) with (m = 32, ef_construction = 128);

drop index if exists skill_embedding_idx;
create index skill_embedding_idx on skill
    using hnsw (embedding vector_cosine_ops) with (m = 32, ef_construction = 128);

drop index if exists job_role_embedding_idx;
create index job_role_embedding_idx on job_role
    using hnsw (embedding vector_cosine_ops) with (m = 32, ef_construction = 128);

drop index if exists precedent_seed_embedding_idx;
create index precedent_seed_embedding_idx on precedent_seed
    using hnsw (embedding vector_cosine_ops) with (m = 32, ef_construction = 128);

-- Emerging-topic candidates and taxonomy versions (issue 7).
--
-- A topic candidate keeps one stable id across nightly discovery runs: each run writes a snapshot
-- (size, growth, phrases) and its members, so a curator can follow a candidate over time.
CREATE SEQUENCE topic_id_seq START 1;
CREATE TABLE topic_candidates (
    topic_id        VARCHAR PRIMARY KEY,          -- 'T0001', stable across runs
    status          VARCHAR NOT NULL,             -- open | dismissed | merged | promoted
    first_run_id    BIGINT NOT NULL,              -- runs.run_id of the discovery run that found it
    last_run_id     BIGINT NOT NULL,              -- last run it was matched in
    first_seen      TIMESTAMP NOT NULL,
    last_seen       TIMESTAMP NOT NULL,
    model           VARCHAR NOT NULL,             -- embedding model of the centroid
    centroid        FLOAT[] NOT NULL,             -- latest centroid (L2-normalised), used for matching
    key_phrases     VARCHAR[],                    -- latest description
    size            INTEGER NOT NULL,             -- latest size
    target          VARCHAR,                      -- merged into / promoted as this type id
    target_version  VARCHAR                       -- taxonomy version of the target type
);

CREATE TABLE topic_snapshots (                    -- one row per candidate per discovery run
    run_id           BIGINT NOT NULL,
    topic_id         VARCHAR NOT NULL,
    window_start     DATE,
    window_end       DATE,
    size             INTEGER NOT NULL,
    monthly_counts   JSON,                        -- {"2026-01": 4, ...} over the window
    growth           DOUBLE,                      -- last 30 days vs the 30 before, relative
    key_phrases      VARCHAR[],
    nearest_type     VARCHAR,
    nearest_sim      DOUBLE,
    type_sims        JSON,                        -- {type_id: cosine} to every type prototype
    representative   VARCHAR[],                   -- arxiv ids closest to the centroid
    matched_by       VARCHAR,                     -- new | members | centroid
    match_score      DOUBLE,
    PRIMARY KEY (run_id, topic_id)
);

CREATE TABLE topic_members (
    run_id     BIGINT NOT NULL,
    topic_id   VARCHAR NOT NULL,
    arxiv_id   VARCHAR NOT NULL,
    score      DOUBLE,                            -- cosine to the centroid
    PRIMARY KEY (run_id, arxiv_id)
);

CREATE SEQUENCE topic_action_id_seq START 1;
CREATE TABLE topic_actions (                      -- append-only curator decisions on candidates
    action_id         BIGINT PRIMARY KEY DEFAULT nextval('topic_action_id_seq'),
    topic_id          VARCHAR NOT NULL,
    action            VARCHAR NOT NULL,           -- dismiss | merge | promote | reopen
    target            VARCHAR,                    -- type id merged into / promoted as
    taxonomy_version  VARCHAR,
    curator           VARCHAR NOT NULL,
    note              VARCHAR,
    queued            INTEGER,                    -- papers put into the review queue by the action
    created_at        TIMESTAMP NOT NULL
);

-- Review suggestions: papers a topic merge/promote or a taxonomy split sends to the curators. Each
-- also gets a needs_review prediction (model_version 'suggestion:...') so the dashboard's review
-- queue shows it; this table says why and whether a curator has decided it since.
CREATE SEQUENCE review_suggestion_id_seq START 1;
CREATE TABLE review_suggestions (
    suggestion_id     BIGINT PRIMARY KEY DEFAULT nextval('review_suggestion_id_seq'),
    arxiv_id          VARCHAR NOT NULL,
    suggested_types   VARCHAR[] NOT NULL,         -- the suggestion (first = preferred)
    options           VARCHAR[],                  -- the choices a split offers
    reason            VARCHAR NOT NULL,           -- topic-merge | topic-promote | taxonomy-split
    ref               VARCHAR NOT NULL,           -- topic id or 'from->to' taxonomy versions
    taxonomy_version  VARCHAR NOT NULL,           -- version the suggested ids belong to
    from_label_id     BIGINT,                     -- the label a split could not migrate
    created_at        TIMESTAMP NOT NULL
);

-- Taxonomy versions: the YAML of each version and the explicit mapping from its parent's ids.
CREATE TABLE taxonomy_versions (
    version         VARCHAR PRIMARY KEY,
    parent_version  VARCHAR,
    yaml_text       VARCHAR NOT NULL,
    note            VARCHAR,
    created_by      VARCHAR,
    created_at      TIMESTAMP NOT NULL
);

CREATE TABLE taxonomy_mappings (                  -- old id -> new id, one row per pair
    from_version  VARCHAR NOT NULL,
    to_version    VARCHAR NOT NULL,
    old_id        VARCHAR NOT NULL,               -- '' for an added type
    new_id        VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL,               -- same | rename | split | merge | add
    PRIMARY KEY (from_version, to_version, old_id, new_id)
);

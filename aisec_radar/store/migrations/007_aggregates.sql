-- Scale (issue 8): per-paper facts the dashboard filters and groups on, so a page at 1M papers does
-- not re-derive "latest prediction per paper" (a window over every prediction) and the paper date
-- (a regexp over every id) on each query. Written only by store/aggregates.refresh_aggregates()
-- (the nightly job, after classify); readers compare aggregate_state's fingerprint with the live
-- tables and fall back to the live views while it is stale. Curator labels are NOT copied here:
-- readers join current_labels live, so a label shows at once.
CREATE TABLE paper_facts (
    arxiv_id              VARCHAR NOT NULL,
    d                     DATE,            -- published, else the new-style id's yymm (queries.PAPER_DATE)
    month                 DATE,            -- date_trunc('month', d)
    primary_category      VARCHAR,
    categories            VARCHAR[],
    is_cross_list         BOOLEAN,
    content_hash          VARCHAR,
    has_prediction        BOOLEAN NOT NULL,
    pred_types            VARCHAR[],       -- the current prediction as effective types: labels, or [relevance]
    pred_relevance        VARCHAR,
    pred_role             VARCHAR,
    pred_modality         VARCHAR,
    pred_status           VARCHAR,
    pred_confidence       DOUBLE,
    pred_review_priority  DOUBLE,
    pred_model_version    VARCHAR,
    pred_created_at       TIMESTAMP
);

-- Approximate nearest-neighbour layout for semantic search (IVF): each stored vector with the id of
-- its nearest centroid, rows kept in cluster order so a probe of a few clusters reads a few row groups.
CREATE TABLE embedding_centroids (
    model     VARCHAR NOT NULL,
    cluster   INTEGER NOT NULL,
    centroid  FLOAT[] NOT NULL,
    PRIMARY KEY (model, cluster)
);

CREATE TABLE embedding_ivf (
    model         VARCHAR NOT NULL,
    cluster       INTEGER NOT NULL,
    content_hash  VARCHAR NOT NULL,
    vector        FLOAT[] NOT NULL
);

CREATE TABLE aggregate_state (
    name          VARCHAR PRIMARY KEY,         -- paper_facts | ivf:<model>
    fingerprint   VARCHAR NOT NULL,            -- of the live tables it was built from
    refreshed_at  TIMESTAMP NOT NULL,
    row_count     BIGINT NOT NULL,
    seconds       DOUBLE
);

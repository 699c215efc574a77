-- Initial schema. Every later change is a new numbered file; never edit a released one.
CREATE TABLE papers (
    arxiv_id          VARCHAR PRIMARY KEY,     -- without version
    latest_version    INTEGER,
    title             VARCHAR NOT NULL,
    abstract          VARCHAR,
    authors           VARCHAR[],
    categories        VARCHAR[],               -- primary first
    primary_category  VARCHAR,
    is_cross_list     BOOLEAN,                 -- primary is not one of the harvested categories
    published         DATE,
    updated           DATE,
    doi               VARCHAR,
    content_hash      VARCHAR NOT NULL,        -- of title + abstract: drives staleness and the embedding cache
    first_seen        TIMESTAMP NOT NULL,
    last_seen         TIMESTAMP NOT NULL
);

CREATE TABLE paper_versions (
    arxiv_id      VARCHAR NOT NULL,
    version       INTEGER NOT NULL,
    submitted     TIMESTAMP,
    size          VARCHAR,
    title         VARCHAR,
    content_hash  VARCHAR,
    seen_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (arxiv_id, version)
);

CREATE TABLE models (
    model_version     VARCHAR PRIMARY KEY,
    created_at        TIMESTAMP NOT NULL,
    taxonomy_version  VARCHAR,
    promoted          BOOLEAN NOT NULL DEFAULT FALSE,
    report            JSON
);

CREATE TABLE predictions (
    arxiv_id          VARCHAR NOT NULL,
    model_version     VARCHAR NOT NULL,
    taxonomy_version  VARCHAR NOT NULL,
    relevance         VARCHAR NOT NULL,        -- in_taxonomy | other_aisec | not_relevant
    type_scores       JSON,
    labels            VARCHAR[],
    role              VARCHAR,
    modality          VARCHAR,
    confidence        DOUBLE,
    status            VARCHAR NOT NULL,        -- auto | needs_review
    review_priority   DOUBLE,
    explanation       JSON,
    content_hash      VARCHAR,                 -- text it was made from: differs from papers.content_hash => stale
    created_at        TIMESTAMP NOT NULL,
    PRIMARY KEY (arxiv_id, model_version, taxonomy_version)
);

CREATE SEQUENCE label_id_seq START 1;
CREATE TABLE labels (                          -- append-only: the latest per paper wins
    label_id          BIGINT PRIMARY KEY DEFAULT nextval('label_id_seq'),
    arxiv_id          VARCHAR NOT NULL,
    types             VARCHAR[] NOT NULL,
    role              VARCHAR,
    modality          VARCHAR,
    curator           VARCHAR NOT NULL,
    note              VARCHAR,
    source            VARCHAR NOT NULL,
    taxonomy_version  VARCHAR,
    created_at        TIMESTAMP NOT NULL
);

CREATE SEQUENCE run_id_seq START 1;
CREATE TABLE runs (
    run_id       BIGINT PRIMARY KEY DEFAULT nextval('run_id_seq'),
    kind         VARCHAR NOT NULL,
    started_at   TIMESTAMP NOT NULL,
    finished_at  TIMESTAMP,
    status       VARCHAR NOT NULL,             -- running | ok | failed
    counts       JSON,
    error        VARCHAR
);

CREATE TABLE harvest_state (
    key         VARCHAR PRIMARY KEY,
    value       VARCHAR NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

CREATE TABLE embeddings (
    content_hash  VARCHAR NOT NULL,
    model         VARCHAR NOT NULL,
    vector        FLOAT[] NOT NULL,
    PRIMARY KEY (content_hash, model)
);

CREATE TABLE survey_citations (               -- papers the survey's bibliography already cites
    arxiv_id     VARCHAR PRIMARY KEY,
    bibkey       VARCHAR,
    title        VARCHAR,
    matched_by   VARCHAR,                      -- eprint | url | doi | title
    imported_at  TIMESTAMP NOT NULL
);

-- What readers see: the latest curator label per paper, the latest prediction per paper, and the
-- effective label (curator wins over the classifier). Every stage reads these views instead of
-- re-deriving "latest" itself.
CREATE VIEW current_labels AS
SELECT * FROM labels
QUALIFY row_number() OVER (PARTITION BY arxiv_id ORDER BY created_at DESC, label_id DESC) = 1;

CREATE VIEW current_predictions AS
SELECT * FROM predictions
QUALIFY row_number() OVER (PARTITION BY arxiv_id ORDER BY created_at DESC, model_version DESC) = 1;

CREATE VIEW effective_labels AS
SELECT
    p.arxiv_id,
    coalesce(l.types, CASE WHEN cp.relevance = 'in_taxonomy' THEN cp.labels ELSE [cp.relevance] END) AS types,
    coalesce(l.role, cp.role) AS role,
    coalesce(l.modality, cp.modality) AS modality,
    CASE WHEN l.arxiv_id IS NOT NULL THEN 'curated'
         WHEN cp.arxiv_id IS NOT NULL THEN 'auto'
         ELSE 'unclassified' END AS provenance,
    cp.status AS prediction_status,
    cp.confidence
FROM papers p
LEFT JOIN current_labels l USING (arxiv_id)
LEFT JOIN current_predictions cp USING (arxiv_id);

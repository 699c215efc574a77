-- Nightly job bookkeeping: small key/value facts the scheduler needs between runs
-- (e.g. how many curator labels existed at the last retrain, so the next retrain waits for N new ones).
CREATE TABLE job_state (
    key         VARCHAR PRIMARY KEY,
    value       VARCHAR NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

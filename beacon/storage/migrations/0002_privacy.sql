-- Privacy: per-dataset disclosure policy, participant consent, per-identity query budgets and
-- the audit log of answered queries. Forward-only, like every migration.

-- The disclosure policy of a dataset (beacon.policy.policy_from_json); '{}' = the defaults.
ALTER TABLE dataset ADD COLUMN disclosure_policy jsonb NOT NULL DEFAULT '{}'::jsonb;

-- When a sample's consent was last changed, and when it was withdrawn (consent 'none': its
-- contribution has been removed from every variant row of the dataset).
ALTER TABLE sample ADD COLUMN consent_updated_at timestamptz;
ALTER TABLE sample ADD COLUMN withdrawn_at timestamptz;

-- Consent as the participants gave it, kept by dataset and sample id and NOT tied to the
-- sample rows: a reload of the same dataset (which recreates its samples) must still honour a
-- withdrawal made before it.
CREATE TABLE consent_record (
    dataset_id  text NOT NULL,
    sample_id   text NOT NULL,
    consent     text NOT NULL CHECK (consent IN ('all', 'aggregate', 'none')),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dataset_id, sample_id)
);

-- One row per identity ('sub:<subject>' or 'addr:<client address>'): the start of its current
-- window and the queries it has made in it. Updated by one atomic INSERT ... ON CONFLICT.
CREATE TABLE query_budget (
    identity      text PRIMARY KEY,
    window_start  timestamptz NOT NULL,
    used          integer NOT NULL CHECK (used >= 0)
);

-- Every answered query: who, when, which datasets at which granularity. Never a token, never
-- the queried allele or region.
CREATE TABLE audit_log (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT clock_timestamp(),
    subject         text,
    client_address  text,
    tier            text NOT NULL,
    endpoint        text NOT NULL,
    datasets        text[] NOT NULL DEFAULT '{}',
    granularities   text[] NOT NULL DEFAULT '{}',
    returned_granularity text NOT NULL,
    answer_exists   boolean,
    status          smallint NOT NULL DEFAULT 200,
    CHECK (cardinality(datasets) = cardinality(granularities))
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_subject ON audit_log (subject, at) WHERE subject IS NOT NULL;
CREATE INDEX audit_log_address ON audit_log (client_address, at);

-- Initial schema. Coordinates are 0-based, half-open; alleles in the canonical trimmed form
-- of beacon.normalize. Forward-only: never edit a released migration, add the next number.

CREATE TABLE dataset (
    id                  text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$'),
    name                text NOT NULL,
    description         text NOT NULL DEFAULT '',
    assembly            text NOT NULL CHECK (assembly IN ('GRCh37', 'GRCh38')),
    security_level      text NOT NULL DEFAULT 'PUBLIC'
                        CHECK (security_level IN ('PUBLIC', 'REGISTERED', 'CONTROLLED')),
    version             text NOT NULL DEFAULT '1',
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    count_source        text NOT NULL DEFAULT 'genotypes'
                        CHECK (count_source IN ('genotypes', 'info', 'presence')),
    sample_count        integer NOT NULL DEFAULT 0,
    variant_count       bigint NOT NULL DEFAULT 0,
    call_count          bigint NOT NULL DEFAULT 0,
    external_url        text,
    data_use_conditions jsonb NOT NULL DEFAULT '{}'::jsonb
);

-- Samples of a dataset; sample_index is the position used in variant.carrier_samples.
CREATE TABLE sample (
    dataset_id    text NOT NULL REFERENCES dataset (id) ON DELETE CASCADE,
    sample_index  integer NOT NULL CHECK (sample_index >= 0),
    sample_id     text NOT NULL,
    consent       text NOT NULL DEFAULT 'all' CHECK (consent IN ('all', 'aggregate', 'none')),
    removed_at    timestamptz,
    PRIMARY KEY (dataset_id, sample_index),
    UNIQUE (dataset_id, sample_id)
);

-- One row per dataset x allele. LIST-partitioned by dataset so a load can build a whole new
-- partition and swap it in inside one transaction; each partition may itself be partitioned
-- by reference_name (docs/scaling.md). Queries only ever name the parent table.
CREATE TABLE variant (
    dataset_id              text NOT NULL,
    reference_name          text NOT NULL,
    start                   bigint NOT NULL CHECK (start >= 0),
    "end"                   bigint NOT NULL,
    reference_bases         text NOT NULL,
    alternate_bases         text NOT NULL,
    variant_type            text NOT NULL,
    vcf_start               bigint NOT NULL,
    vcf_ref                 text NOT NULL,
    vcf_alt                 text NOT NULL,
    variant_id              text,
    sv_length               bigint,
    mate_name               text,
    mate_start              bigint,
    allele_count            integer,
    allele_number           integer,
    carriers                integer,
    heterozygous            integer,
    homozygous              integer,
    hemizygous              integer,
    ploidy                  smallint NOT NULL DEFAULT 2,
    carrier_samples         integer[] NOT NULL DEFAULT '{}',
    carrier_dosage          smallint[] NOT NULL DEFAULT '{}',
    called_exceptions       integer[] NOT NULL DEFAULT '{}',
    called_exception_counts smallint[] NOT NULL DEFAULT '{}',
    gene_ids                text[] NOT NULL DEFAULT '{}',
    filter_pass             boolean NOT NULL DEFAULT true,
    CHECK ("end" >= start)
) PARTITION BY LIST (dataset_id);

-- Exact, bracket and short-range queries: every allele spanning at most 1000 bases can be
-- found from its start alone (start in [q_start - 1000, q_end)).
CREATE INDEX variant_position ON variant (reference_name, start);
-- Long alleles (structural variants) are few; overlap queries scan them by end.
CREATE INDEX variant_long ON variant (reference_name, "end") WHERE "end" - start > 1000;
CREATE INDEX variant_genes ON variant USING gin (gene_ids);

-- Gene coordinates an operator may load for geneId queries (0-based, half-open).
CREATE TABLE gene (
    assembly       text NOT NULL CHECK (assembly IN ('GRCh37', 'GRCh38')),
    symbol         text NOT NULL,
    reference_name text NOT NULL,
    start          bigint NOT NULL,
    "end"          bigint NOT NULL,
    PRIMARY KEY (assembly, symbol)
);

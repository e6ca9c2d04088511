-- The secret behind each allele's own k-anonymity threshold (beacon.policy.allele_draw):
-- anonymous callers must need more than the published k to tell which alleles sit just above
-- their threshold. One row, drawn once from PostgreSQL's strong random source (two version-4
-- UUIDs: 244 random bits) and never changed: a new key would give every allele a second,
-- independent threshold for an attacker to compare. Read only inside the variant queries.
CREATE TABLE threshold_key (
    only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    key       text NOT NULL
);
INSERT INTO threshold_key (key)
SELECT replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');

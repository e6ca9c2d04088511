-- Beacon v1 names an allele by its VCF position: an indel or a symbolic allele starts at the
-- padding base before it (vcf_start), one base before its stored start. Brackets read that
-- way (beacon.storage.queries._vcf_bracket) find such alleles through this index; alleles
-- stored at their VCF position (SNPs, MNPs, breakends) through variant_position.
CREATE INDEX variant_vcf_start ON variant (reference_name, vcf_start) WHERE vcf_start <> start;

"""VCF ingestion: the only package that imports cyvcf2.

``load_vcf(dsn, path, options)`` loads one VCF/BCF into one dataset in one transaction and
returns a :class:`LoadReport`; see :mod:`beacon.ingest.loader`.
"""

from beacon.ingest.loader import load_vcf
from beacon.ingest.options import LoadMode, LoadOptions, LoadReport, SkipReason

__all__ = ["LoadMode", "LoadOptions", "LoadReport", "SkipReason", "load_vcf"]

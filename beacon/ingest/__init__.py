"""VCF ingestion: the only package that imports cyvcf2.

``load_vcf(dsn, path, options)`` loads one VCF/BCF into one dataset in one transaction and
returns a :class:`LoadReport`; see :mod:`beacon.ingest.loader`. ``load_vcf`` is imported on
first use, so that reader processes (:mod:`beacon.ingest.worker`) start without the database
client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from beacon.ingest.options import LoadMode, LoadOptions, LoadReport, SkipReason

if TYPE_CHECKING:
    from beacon.ingest.loader import load_vcf

__all__ = ["LoadMode", "LoadOptions", "LoadReport", "SkipReason", "load_vcf"]


def __getattr__(name: str) -> Any:
    if name == "load_vcf":
        from beacon.ingest.loader import load_vcf

        return load_vcf
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""One site's GA4GH Beacon v2: variant store, VCF ingestion and query API."""

__version__ = "0.1.0"

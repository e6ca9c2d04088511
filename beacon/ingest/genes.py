"""Gene symbols named by a record's annotations (pure string handling, no cyvcf2).

Sources, all optional: INFO ``GENEINFO`` (ClinVar: ``BRCA1:672|NBR2:10230``), VEP ``CSQ``
(the ``SYMBOL`` field) and SnpEff ``ANN`` (the ``Gene_Name`` field). Field positions of CSQ
and ANN come from their header descriptions. Symbols are returned upper-case, de-duplicated
and sorted, so that ``geneId`` queries match case-insensitively.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

_FORMAT_RE: Final = re.compile(r"Format:\s*'?([^'\"]+)'?", re.IGNORECASE)
_ANN_FIELDS_RE: Final = re.compile(r"'([^']+)'")
_SYMBOL_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")

_DEFAULT_ANN_GENE: Final = 3  # SnpEff: Allele | Annotation | Impact | Gene_Name | ...


@dataclass(frozen=True, slots=True)
class GeneFields:
    """Where to find gene symbols in a file's INFO, from its header."""

    geneinfo: bool = False
    csq_symbol: int | None = None
    ann_gene: int | None = None

    @property
    def any(self) -> bool:
        return self.geneinfo or self.csq_symbol is not None or self.ann_gene is not None


def field_index(description: str, names: tuple[str, ...]) -> int | None:
    """Index of the first of ``names`` in a ``|``-separated header description, or ``None``."""
    m = _FORMAT_RE.search(description) or _ANN_FIELDS_RE.search(description)
    if m is None:
        return None
    fields = [f.strip().strip("'\"").strip().upper() for f in m.group(1).split("|")]
    for name in names:
        if name.upper() in fields:
            return fields.index(name.upper())
    return None


def gene_fields(info_descriptions: dict[str, str]) -> GeneFields:
    """Which annotation sources a header declares (``{INFO ID: Description}``)."""
    csq = info_descriptions.get("CSQ")
    ann = info_descriptions.get("ANN")
    ann_index = None
    if ann is not None:
        ann_index = field_index(ann, ("Gene_Name",))
        if ann_index is None:
            ann_index = _DEFAULT_ANN_GENE
    return GeneFields(
        geneinfo="GENEINFO" in info_descriptions,
        csq_symbol=field_index(csq, ("SYMBOL",)) if csq is not None else None,
        ann_gene=ann_index,
    )


def _from_annotations(value: str, index: int, into: set[str]) -> None:
    for annotation in value.split(","):
        parts = annotation.split("|")
        if index < len(parts):
            symbol = parts[index].strip()
            if symbol and _SYMBOL_RE.match(symbol):
                into.add(symbol.upper())


def gene_ids(
    fields: GeneFields, geneinfo: str | None, csq: str | None, ann: str | None
) -> tuple[str, ...]:
    """Upper-case, sorted, unique gene symbols from one record's INFO values."""
    found: set[str] = set()
    if fields.geneinfo and geneinfo:
        for entry in geneinfo.split("|"):
            symbol = entry.split(":", 1)[0].strip()
            if symbol and _SYMBOL_RE.match(symbol):
                found.add(symbol.upper())
    if fields.csq_symbol is not None and csq:
        _from_annotations(csq, fields.csq_symbol, found)
    if fields.ann_gene is not None and ann:
        _from_annotations(ann, fields.ann_gene, found)
    return tuple(sorted(found))

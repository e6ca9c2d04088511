"""Participant consent files: which samples may contribute to which answers, and the dataset's
Data Use Ontology (DUO) codes. Parsing is pure; applying a file or a withdrawal to the store
is :mod:`beacon.consent_store`.

The format is tab-separated text, like a VCF header followed by a table::

    ##fileformat=beacon-consent/1
    ##duo=DUO:0000042
    ##duo=DUO:0000007
    ##duoVersion=2021-02-23
    #sample_id	consent
    HG00096	all
    HG00097	aggregate
    HG00099	none

* ``##duo=`` lines (optional, repeatable) give the dataset's data use conditions;
  ``##duoVersion=`` the DUO release they refer to (default :data:`DEFAULT_DUO_VERSION`).
* Every other non-empty line is ``sample_id<TAB>consent``; consent is ``all`` (any answer,
  records included), ``aggregate`` (existence, counts and frequencies only, never as an
  individual) or ``none`` (nothing at all: the participant withdrew). A ``#`` line is a
  comment (the column header above is one). Samples may appear once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from beacon.errors import InvalidRequest
from beacon.model import Consent

DEFAULT_DUO_VERSION: Final = "2021-02-23"
MAX_FILE_BYTES: Final = 64 * 1024 * 1024

_DUO_RE: Final = re.compile(r"^DUO:\d{7}$")
_SAMPLE_RE: Final = re.compile(r"^[^\s]{1,255}$")

DUO_LABELS: Final[Mapping[str, str]] = {
    "DUO:0000004": "no restriction",
    "DUO:0000006": "health or medical or biomedical research",
    "DUO:0000007": "disease specific research",
    "DUO:0000011": "population origins or ancestry research only",
    "DUO:0000012": "research specific restrictions",
    "DUO:0000015": "no general methods research",
    "DUO:0000016": "genetic studies only",
    "DUO:0000018": "not for profit, non commercial use only",
    "DUO:0000019": "publication required",
    "DUO:0000020": "collaboration required",
    "DUO:0000021": "ethics approval required",
    "DUO:0000022": "geographical restriction",
    "DUO:0000024": "publication moratorium",
    "DUO:0000025": "time limit on use",
    "DUO:0000026": "user specific restriction",
    "DUO:0000027": "project specific restriction",
    "DUO:0000028": "institution specific restriction",
    "DUO:0000029": "return to database or resource",
    "DUO:0000042": "general research use",
    "DUO:0000043": "clinical care use",
    "DUO:0000044": "population origins or ancestry research prohibited",
    "DUO:0000045": "not for profit organisation use only",
    "DUO:0000046": "non-commercial use only",
}
"""Labels of the DUO terms most used on genomic datasets (others are accepted unlabelled)."""


@dataclass(frozen=True, slots=True)
class ConsentFile:
    """A parsed consent file: sample id -> consent (file order) and the dataset's DUO codes."""

    samples: dict[str, Consent] = field(default_factory=dict)
    duo_codes: tuple[str, ...] = ()
    duo_version: str = DEFAULT_DUO_VERSION

    def data_use_conditions(self) -> dict[str, Any] | None:
        """The Beacon v2 ``dataUseConditions`` object, or ``None`` when the file names no DUO
        code (the dataset's conditions are then left as they are)."""
        if not self.duo_codes:
            return None
        return {
            "duoDataUse": [
                {"id": code, "label": DUO_LABELS.get(code, code), "version": self.duo_version}
                for code in self.duo_codes
            ]
        }


def parse_consent(value: str, *, parameter: str = "consent") -> Consent:
    """``all``/``aggregate``/``none`` (any case) as a :class:`Consent`; raises
    :class:`InvalidRequest` naming ``parameter`` otherwise."""
    try:
        return Consent(value.strip().lower())
    except ValueError as exc:
        raise InvalidRequest(
            f"{parameter} must be one of all, aggregate, none; got {value.strip()!r}",
            parameter=parameter,
        ) from exc


def parse_consent_file(text: str) -> ConsentFile:
    """Parse a consent file (see the module docstring).

    Raises :class:`InvalidRequest` whose message names the line, for a malformed line, an
    unknown consent, a malformed DUO code, a repeated sample or a file without samples.
    """
    samples: dict[str, Consent] = {}
    duo: list[str] = []
    version = DEFAULT_DUO_VERSION
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        if line.startswith("##"):
            key, sep, value = line[2:].partition("=")
            key, value = key.strip(), value.strip()
            if not sep:
                raise InvalidRequest(f"line {number}: expected ##key=value", parameter="file")
            if key == "duo":
                code = value.upper()
                if not _DUO_RE.match(code):
                    raise InvalidRequest(
                        f"line {number}: {value!r} is not a DUO code (DUO:0000042)",
                        parameter="file",
                    )
                if code not in duo:
                    duo.append(code)
            elif key == "duoVersion":
                if not value:
                    raise InvalidRequest(f"line {number}: empty duoVersion", parameter="file")
                version = value
            elif key != "fileformat":
                raise InvalidRequest(f"line {number}: unknown header {key!r}", parameter="file")
            continue
        if line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split("\t")]
        if len(parts) != 2:
            raise InvalidRequest(
                f"line {number}: expected 'sample_id<TAB>consent'", parameter="file"
            )
        sample, scope = parts
        if not _SAMPLE_RE.match(sample):
            raise InvalidRequest(f"line {number}: invalid sample id {sample!r}", parameter="file")
        if sample in samples:
            raise InvalidRequest(f"line {number}: sample {sample!r} repeated", parameter="file")
        try:
            samples[sample] = Consent(scope.lower())
        except ValueError as exc:
            raise InvalidRequest(
                f"line {number}: consent must be all, aggregate or none; got {scope!r}",
                parameter="file",
            ) from exc
    if not samples and not duo:
        raise InvalidRequest("the consent file names no sample and no DUO code", parameter="file")
    return ConsentFile(samples=samples, duo_codes=tuple(duo), duo_version=version)

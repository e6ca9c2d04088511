"""The project's own JSON Schemas (``schemas/`` at the top of the repository), loaded once.

:func:`validate` checks a document against one of them and raises
:class:`beacon.errors.InvalidRequest` naming the first offending location; validators are
built on first use and cached (nothing is read at import). The beacon uses it for request
bodies before parsing; the aggregator may use it for documents it receives.
"""

from __future__ import annotations

import functools
import json
import sysconfig
from pathlib import Path
from typing import Any, Final

from jsonschema import Draft202012Validator

from beacon.errors import InvalidRequest


def _schema_dir() -> Path:
    """The repository's ``schemas/`` in a source checkout or editable install; otherwise the
    copy an installed wheel puts under ``<prefix>/share/beacon-network/schemas``."""
    checkout = Path(__file__).resolve().parent.parent / "schemas"
    if checkout.is_dir():
        return checkout
    return Path(sysconfig.get_path("data")) / "share" / "beacon-network" / "schemas"


SCHEMA_DIR: Final = _schema_dir()
"""Where the schemas live."""


@functools.cache
def validator(name: str) -> Draft202012Validator:
    """The validator of ``schemas/<name>.json`` (read and checked once per process).

    Raises ``FileNotFoundError`` for an unknown name.
    """
    schema = json.loads((SCHEMA_DIR / f"{name}.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def validate(name: str, document: Any, *, parameter: str = "body") -> None:
    """Check ``document`` against ``schemas/<name>.json``.

    Raises :class:`InvalidRequest` whose ``parameter`` is the JSON path of the first error
    (``query.pagination.skip``), or ``parameter`` itself for the document root.
    """
    error = next(iter(validator(name).iter_errors(document)), None)
    if error is None:
        return
    where = ".".join(str(p) for p in error.absolute_path) or parameter
    raise InvalidRequest(f"{where}: {error.message[:200]}", parameter=where)

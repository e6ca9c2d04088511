"""The network's members: their configuration, capabilities and health.

At start and every ``refresh_interval_s`` the registry fetches each member's ``/info``,
``/configuration`` and ``/map`` (v2; plus ``/datasets`` when it has one) or its root info
document (v1), checks them (built-in structural checks always, the official schemas when
``schema_dir`` is configured) and records what it learned as a frozen :class:`Capabilities`.
A member whose documents do not validate is ``invalid``: it is reported, and not asked.

:meth:`Registry.reload` replaces the member list without a restart (the CLI calls it on SIGHUP
and when the configuration file changes); members whose id and URL are unchanged keep what
was learned about them.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from aggregator.client import Fetched, FetchKind, MemberClient
from aggregator.config import MemberApi, MemberConfig, NetworkConfig
from aggregator.schemas import OfficialSchemas
from beacon import normalize
from beacon.errors import InvalidRequest

log = logging.getLogger(__name__)


class Health(enum.StrEnum):
    UP = "up"
    DOWN = "down"
    INVALID = "invalid"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    id: str
    name: str
    assembly: str | None = None
    security_level: str | None = None


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a member said about itself. ``assemblies`` come from the configuration when set
    there, else from its datasets."""

    beacon_id: str | None = None
    name: str | None = None
    api_version: str | None = None
    assemblies: tuple[str, ...] = ()
    datasets: tuple[DatasetInfo, ...] = ()


@dataclass(slots=True)
class MemberState:
    """Everything the registry knows about one member (mutated only by the registry)."""

    config: MemberConfig
    capabilities: Capabilities = field(default_factory=Capabilities)
    health: Health = Health.UNKNOWN
    message: str | None = None
    checked_at: datetime | None = None
    last_answer_at: datetime | None = None
    latency_ms: float | None = None

    @property
    def name(self) -> str:
        """The configured name, else the one the member gives itself, else its id."""
        return self.config.name or self.capabilities.name or self.config.id

    @property
    def assemblies(self) -> tuple[str, ...]:
        return self.config.assemblies or self.capabilities.assemblies


class InvalidDocument(ValueError):
    """A member's self-description is not usable."""


def _assembly(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return normalize.assembly(value)
    except InvalidRequest:
        return None


def _v2_info(doc: Any) -> tuple[str, str | None, str | None]:
    if not isinstance(doc, Mapping) or not isinstance(doc.get("response"), Mapping):
        raise InvalidDocument("info: no response object")
    response = doc["response"]
    beacon_id = response.get("id")
    if not isinstance(beacon_id, str) or not beacon_id:
        raise InvalidDocument("info: response.id is missing")
    name = response.get("name")
    version = response.get("apiVersion")
    return (
        beacon_id,
        name if isinstance(name, str) else None,
        version if isinstance(version, str) else None,
    )


def _v2_datasets(doc: Any) -> tuple[DatasetInfo, ...]:
    if not isinstance(doc, Mapping):
        raise InvalidDocument("datasets: not an object")
    response = doc.get("response")
    collections = response.get("collections") if isinstance(response, Mapping) else None
    if not isinstance(collections, list):
        raise InvalidDocument("datasets: response.collections is not a list")
    found = []
    for item in collections:
        if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
            raise InvalidDocument("datasets: a collection has no id")
        info = item.get("info") if isinstance(item.get("info"), Mapping) else {}
        assert isinstance(info, Mapping)
        name = item.get("name")
        level = item.get("securityLevel", info.get("securityLevel"))
        found.append(
            DatasetInfo(
                id=item["id"],
                name=name if isinstance(name, str) else item["id"],
                assembly=_assembly(
                    item.get("assemblyId", info.get("assemblyId", info.get("assembly")))
                ),
                security_level=level if isinstance(level, str) else None,
            )
        )
    return tuple(found)


def _v1_info(doc: Any) -> Capabilities:
    if not isinstance(doc, Mapping) or not isinstance(doc.get("id"), str):
        raise InvalidDocument("v1 info: id is missing")
    raw_sets = doc.get("datasets", [])
    if not isinstance(raw_sets, list):
        raise InvalidDocument("v1 info: datasets is not a list")
    datasets = []
    for item in raw_sets:
        if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
            raise InvalidDocument("v1 info: a dataset has no id")
        name = item.get("name")
        datasets.append(
            DatasetInfo(
                id=item["id"],
                name=name if isinstance(name, str) else item["id"],
                assembly=_assembly(item.get("assemblyId")),
            )
        )
    name = doc.get("name")
    version = doc.get("apiVersion")
    return Capabilities(
        beacon_id=doc["id"],
        name=name if isinstance(name, str) else None,
        api_version=version if isinstance(version, str) else None,
        datasets=tuple(datasets),
        assemblies=tuple(dict.fromkeys(d.assembly for d in datasets if d.assembly)),
    )


class Registry:
    """Members and their state; refreshes them with the shared :class:`MemberClient`."""

    def __init__(
        self,
        config: NetworkConfig,
        client: MemberClient,
        schemas: OfficialSchemas | None = None,
    ) -> None:
        self._config = config
        self._client = client
        self._schemas = schemas
        self._states: dict[str, MemberState] = {m.id: MemberState(m) for m in config.members}

    @property
    def config(self) -> NetworkConfig:
        return self._config

    def members(self) -> list[MemberState]:
        """Enabled members, in configuration order."""
        return [self._states[m.id] for m in self._config.members if m.enabled]

    def state(self, member_id: str) -> MemberState | None:
        return self._states.get(member_id)

    def reload(self, config: NetworkConfig) -> list[str]:
        """Take a new configuration; return the ids of members that are new or changed
        (they need a refresh). Member state survives when id and URL are unchanged."""
        changed = []
        states: dict[str, MemberState] = {}
        for m in config.members:
            old = self._states.get(m.id)
            if old is not None and old.config.url == m.url and old.config.api == m.api:
                old.config = m
                states[m.id] = old
            else:
                states[m.id] = MemberState(m)
                changed.append(m.id)
        self._states = states
        self._config = config
        log.info("member list reloaded: %d members, %d new or changed", len(states), len(changed))
        return changed

    def record_answer(self, member_id: str, latency_ms: float | None, *, ok: bool) -> None:
        """Note a query call's outcome for ``/api/members``."""
        state = self._states.get(member_id)
        if state is None:
            return
        state.latency_ms = latency_ms
        if ok:
            state.last_answer_at = datetime.now(UTC)
            if state.health is Health.DOWN:
                state.health = Health.UP
                state.message = None

    async def refresh_all(self, member_ids: list[str] | None = None) -> None:
        """Fetch and check the self-descriptions of all (or the given) members, concurrently."""
        targets = [s for s in self.members() if member_ids is None or s.config.id in member_ids]
        await asyncio.gather(*(self.refresh(s) for s in targets))

    async def refresh(self, state: MemberState) -> None:
        """Fetch and check one member's documents; update its health. Never raises."""
        member = state.config
        timeout = max(member.timeout_s, 2.0)
        started = time.perf_counter()
        try:
            if member.api is MemberApi.V1:
                fetched = await self._client.get_json(member.url + "/", timeout_s=timeout)
                self._require_ok(fetched, "info")
                capabilities = _v1_info(fetched.document)
            else:
                capabilities = await self._refresh_v2(member, timeout)
        except _Down as exc:
            state.health, state.message = Health.DOWN, str(exc)
        except InvalidDocument as exc:
            state.health, state.message = Health.INVALID, str(exc)
            log.warning("member %s does not validate: %s", member.id, exc)
        else:
            state.capabilities = capabilities
            state.health, state.message = Health.UP, None
            state.latency_ms = (time.perf_counter() - started) * 1000.0
        state.checked_at = datetime.now(UTC)

    async def _refresh_v2(self, member: MemberConfig, timeout_s: float) -> Capabilities:
        info, configuration, beacon_map = await asyncio.gather(
            self._client.get_json(member.url + "/info", timeout_s=timeout_s),
            self._client.get_json(member.url + "/configuration", timeout_s=timeout_s),
            self._client.get_json(member.url + "/map", timeout_s=timeout_s),
        )
        for kind, fetched in (
            ("info", info),
            ("configuration", configuration),
            ("map", beacon_map),
        ):
            self._require_ok(fetched, kind)
            self._validate(kind, fetched.document)
        beacon_id, name, version = _v2_info(info.document)
        datasets: tuple[DatasetInfo, ...] = ()
        if _has_endpoint(beacon_map.document, "datasets"):
            found = await self._client.get_json(member.url + "/datasets", timeout_s=timeout_s)
            if found.kind is FetchKind.OK:
                datasets = _v2_datasets(found.document)
        return Capabilities(
            beacon_id=beacon_id,
            name=name,
            api_version=version,
            datasets=datasets,
            assemblies=tuple(dict.fromkeys(d.assembly for d in datasets if d.assembly)),
        )

    @staticmethod
    def _require_ok(fetched: Fetched, kind: str) -> None:
        if fetched.kind is FetchKind.OK:
            return
        if fetched.kind in (FetchKind.GARBAGE, FetchKind.TOO_LARGE):
            raise InvalidDocument(f"{kind}: {fetched.message}")
        raise _Down(f"{kind}: {fetched.message}")

    def _validate(self, kind: str, document: Any) -> None:
        if self._schemas is None:
            return
        errors = self._schemas.errors(kind, document)
        if errors:
            raise InvalidDocument(f"{kind} does not follow the Beacon v2 schema: {errors[0]}")

    def snapshot(self, member_id: str) -> MemberState | None:
        state = self._states.get(member_id)
        return replace(state) if state is not None else None


def _has_endpoint(beacon_map: Any, name: str) -> bool:
    if not isinstance(beacon_map, Mapping):
        return False
    response = beacon_map.get("response")
    sets = response.get("endpointSets") if isinstance(response, Mapping) else None
    if not isinstance(sets, Mapping):
        return False
    return any(
        isinstance(entry, Mapping)
        and (key.lower() == name or str(entry.get("rootUrl", "")).rstrip("/").endswith("/" + name))
        for key, entry in sets.items()
    )


class _Down(Exception):
    """Internal: a document could not be fetched (the member is down)."""

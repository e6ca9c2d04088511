"""Disclosure policies are published: each dataset's in /datasets, the default in /configuration."""

from __future__ import annotations

from pathlib import Path

from beacon.model import CountMode, DisclosurePolicy, Granularity
from beacon.policy import DEFAULT_POLICY, policy_to_json
from tests.beacon.querydata import load
from tests.beacon.webutil import beacon_client

CUSTOM = DisclosurePolicy(
    anonymous=Granularity.COUNT,
    registered=Granularity.RECORD,
    controlled=Granularity.RECORD,
    count_mode=CountMode.ROUND,
    count_threshold=10,
    public_min_carriers=3,
    public_min_carriers_spread=4,
)


async def test_datasets_and_configuration_publish_the_policies(
    database_url: str, tmp_path: Path
) -> None:
    await load(database_url, tmp_path, "custom", policy=CUSTOM)
    await load(database_url, tmp_path, "plain", policy=None)
    async with beacon_client(database_url) as client:
        resp = await client.get("/datasets")
        assert resp.status == 200
        entries = {d["id"]: d for d in (await resp.json())["response"]["collections"]}
        assert entries["custom"]["info"]["disclosurePolicy"] == {
            "anonymous": "count",
            "registered": "record",
            "controlled": "record",
            "countMode": "round",
            "countThreshold": 10,
            "publicMinCarriers": 3,
            "publicMinCarriersSpread": 4,
        }
        assert entries["plain"]["info"]["disclosurePolicy"] == policy_to_json(DEFAULT_POLICY)

        resp = await client.get("/datasets/custom")
        (entry,) = (await resp.json())["response"]["collections"]
        assert entry["info"]["disclosurePolicy"]["publicMinCarriers"] == 3

        resp = await client.get("/configuration")
        config = (await resp.json())["response"]
        assert config["defaultDisclosurePolicy"] == policy_to_json(DEFAULT_POLICY)
        assert config["defaultDisclosurePolicy"]["publicMinCarriers"] == 20

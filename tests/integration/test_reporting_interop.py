"""DHIS2 dataValueSets and ADX exports of the scenario, with the shipped mapping and
an operator's edited one."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx

from services.reporting.interop import DEFAULT_MAPPING
from tests.reporting_support.apps import reporting_app, running
from tests.reporting_support.checks import load_scenario
from tests.support.mongo import MongoBackend
from tests.support.nats import NatsServer

ADX = "{urn:ihe:qrph:adx:2015}"
DHIS2_FIELDS = {"dataElement", "period", "orgUnit", "categoryOptionCombo", "value"}


async def data_values(client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    response = await client.get("/v1/exports/dataValueSets.json", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dataSet"] == "BDG_GENDER_EQUALITY"
    found: list[dict[str, Any]] = body["dataValues"]
    return found


async def test_data_value_sets_have_dhis2_fields_periods_and_codes(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with running(reporting_app(mongo, nats_server.url)) as client:
        await load_scenario(nats_server.url, client)

        by_sex = await data_values(
            client,
            indicator="club_members,communication_participants",
            unit_id="vn63:20",
            period="2023",
            by="sex",
        )
        assert all(set(value) == DHIS2_FIELDS for value in by_sex)
        assert [
            (v["dataElement"], v["period"], v["orgUnit"], v["categoryOptionCombo"], v["value"])
            for v in by_sex
        ] == [
            ("BDG_CLUB_MEMBERS", "2023", "vn63:20", "BDG_FEMALE", "4"),
            ("BDG_CLUB_MEMBERS", "2023", "vn63:20", "BDG_MALE", "2"),
            ("BDG_COMMUNICATION_PARTICIPANTS", "2023", "vn63:20", "BDG_FEMALE", "45"),
            ("BDG_COMMUNICATION_PARTICIPANTS", "2023", "vn63:20", "BDG_MALE", "25"),
        ]
        # A time split gives each value its own DHIS2 period; a unit split its org unit.
        monthly = await data_values(
            client,
            indicator="communication_participants",
            unit_id="vn63:20",
            period="2023Q4",
            by="month,child_unit",
        )
        assert {(v["period"], v["orgUnit"]): v["value"] for v in monthly if v["value"] != "0"} == {
            ("202310", "vn63:186"): "55"
        }
        assert {v["categoryOptionCombo"] for v in monthly} == {"default"}
        quarters = await data_values(
            client, indicator="trainees", unit_id="vn63:20", period="2023", by="quarter"
        )
        assert [(v["period"], v["value"]) for v in quarters] == [
            ("2023Q1", "0"), ("2023Q2", "100"), ("2023Q3", "0"), ("2023Q4", "0"),
        ]  # fmt: skip
        # A school year goes as DHIS2's financial year from July; days keep a decimal.
        ratings = await data_values(
            client, indicator="learning_centre_ratings", unit_id="vn63:20", period="SY2016-2017",
            by="grade",
        )  # fmt: skip
        assert {(v["period"], v["categoryOptionCombo"], v["value"]) for v in ratings} == {
            ("2016July", "BDG_GRADE_EXCELLENT", "2"),
            ("2016July", "BDG_GRADE_GOOD", "4"),
            ("2016July", "BDG_GRADE_AVERAGE", "1"),
            ("2016July", "BDG_GRADE_WEAK", "0"),
        }
        days = await data_values(
            client, indicator="training_days", unit_id="vn63:20", period="2023"
        )
        assert days[0]["value"] == "1.5"

        # What DHIS2 cannot hold is refused, saying why.
        ranged = await client.get(
            "/v1/exports/dataValueSets.json",
            params={
                "indicator": "trainees",
                "unit_id": "vn63:20",
                "period": "2023-01-01..2023-06-30",
            },
        )
        assert ranged.status_code == 422
        assert "range" in ranged.json()["detail"]
        partial = await client.get(
            "/v1/exports/dataValueSets.json",
            params={"indicator": "trainees", "unit_id": "vn63:20", "period": "SY2022-2023",
                    "by": "quarter"},
        )  # fmt: skip
        assert partial.status_code == 422
        assert "only partly inside SY2022-2023" in partial.json()["detail"]


async def test_adx_groups_per_org_unit_and_period_with_disaggregation_attributes(
    mongo: MongoBackend, nats_server: NatsServer
) -> None:
    async with running(reporting_app(mongo, nats_server.url)) as client:
        await load_scenario(nats_server.url, client)
        response = await client.get(
            "/v1/exports/adx",
            params={
                "indicator": "communication_participants,communication_sessions",
                "unit_id": "vn63:186,vn63:181",
                "period": "2023Q3,2023Q4",
            },
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/adx+xml")
        root = ElementTree.fromstring(response.content)
        assert root.tag == f"{ADX}adx"
        assert root.get("exported")
        groups = root.findall(f"{ADX}group")
        assert [(g.get("orgUnit"), g.get("period")) for g in groups] == [
            ("vn63:186", "2023-07-01/P3M"),
            ("vn63:186", "2023-10-01/P3M"),
            ("vn63:181", "2023-07-01/P3M"),
            ("vn63:181", "2023-10-01/P3M"),
        ]
        assert {g.get("dataSet") for g in groups} == {"BDG_GENDER_EQUALITY"}
        october = groups[1].findall(f"{ADX}dataValue")
        assert {v.get("dataElement"): v.get("value") for v in october} == {
            "BDG_COMMUNICATION_PARTICIPANTS": "55",
            "BDG_COMMUNICATION_SESSIONS": "1",
        }

        by_sex = await client.get(
            "/v1/exports/adx",
            params={"indicator": "support_recipients", "unit_id": "vn63:20",
                    "period": "2023-01-01..2023-12-31", "by": "sex"},
        )  # fmt: skip
        root = ElementTree.fromstring(by_sex.content)
        (group,) = root.findall(f"{ADX}group")
        assert group.get("period") == "2023-01-01/P365D"
        values = {v.get("SEX"): v.get("value") for v in group.findall(f"{ADX}dataValue")}
        # Children are supported without their sex: they are NOT_REPORTED, not female.
        assert values == {"F": "0", "M": "0", "NOT_REPORTED": "5"}


async def test_an_operators_mapping_edit_applies_to_the_next_export(
    mongo: MongoBackend, nats_server: NatsServer, tmp_path: Path
) -> None:
    mapping = json.loads(DEFAULT_MAPPING.read_text(encoding="utf-8"))
    mapping["org_units"] = {"vn63:20": "LangSon_DHIS2"}
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps(mapping), encoding="utf-8")
    app = reporting_app(mongo, nats_server.url, dhis2_mapping_file=str(path))
    async with running(app) as client:
        await load_scenario(nats_server.url, client)
        params = {"indicator": "trainees", "unit_id": "vn63:20", "period": "2023", "by": "sex"}
        first = await data_values(client, **params)
        assert {v["orgUnit"] for v in first} == {"LangSon_DHIS2"}

        del mapping["category_option_combos"]["sex=female"]
        mapping["data_elements"]["trainees"] = "TRAINEES_UID"
        path.write_text(json.dumps(mapping), encoding="utf-8")
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        unmapped = await client.get("/v1/exports/dataValueSets.json", params=params)
        assert unmapped.status_code == 422
        assert "'sex=female'" in unmapped.json()["detail"]
        total = await data_values(client, **{k: v for k, v in params.items() if k != "by"})
        assert [(v["dataElement"], v["value"]) for v in total] == [("TRAINEES_UID", "100")]

        path.write_text("{not json", encoding="utf-8")
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
        broken = await client.get("/v1/exports/adx", params=params)
        assert broken.status_code == 503
        assert broken.json()["type"].endswith("/mapping-unavailable")
        assert str(path) in broken.json()["detail"]

"""ADX 1.0 (IHE QRPH Aggregate Data Exchange) messages from an analytics answer.

    <adx xmlns="urn:ihe:qrph:adx:2015" exported="2025-01-15T03:00:00+00:00">
      <group orgUnit="vn63:20" period="2023-01-01/P1Y" dataSet="(data set code)">
        <dataValue dataElement="(club_members' code)" SEX="F" value="4"/>
      </group>
    </adx>

One `group` per org unit and period (and programme's attribute option combo, when
the mapping has one), in the order of the answer; disaggregations are attributes of
each `dataValue`, named and coded by the mapping file's `adx_attributes`. Periods are
the first day and an ISO 8601 duration, so ranges (`P1826D`) travel too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from xml.etree import ElementTree

from services.reporting.datavaluesets import number_text
from services.reporting.interop import DataPoint, Mapped, adx_period

ADX_NAMESPACE = "urn:ihe:qrph:adx:2015"
ADX_MEDIA_TYPE = "application/adx+xml"


def adx_message(points: Sequence[DataPoint], mapped: Mapped, exported: datetime) -> bytes:
    root = ElementTree.Element(
        "adx", {"xmlns": ADX_NAMESPACE, "exported": exported.isoformat(timespec="seconds")}
    )
    groups: dict[tuple[str, str, str | None], ElementTree.Element] = {}
    for point in points:
        org_unit = mapped.org_unit(point.unit_id)
        period = adx_period(point.period)
        attribute = mapped.attribute_option_combo(point.programme)
        key = (org_unit, period, attribute)
        group = groups.get(key)
        if group is None:
            fields = {"orgUnit": org_unit, "period": period, "dataSet": mapped.mapping.data_set}
            if attribute is not None:
                fields["attributeOptionCombo"] = attribute
            group = groups[key] = ElementTree.SubElement(root, "group", fields)
        ElementTree.SubElement(
            group,
            "dataValue",
            {
                "dataElement": mapped.data_element(point.indicator),
                **mapped.adx_attributes(point.disaggregation),
                "value": number_text(point.value),
            },
        )
    ElementTree.indent(root)
    body: bytes = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
    return body

"""DHIS2's `dataValueSets` JSON: one data value per row of an analytics answer.

The shape DHIS2 imports with `POST /api/dataValueSets` (and exports itself):
`{"dataSet", "dataValues": [{"dataElement", "period", "orgUnit",
"categoryOptionCombo", "attributeOptionCombo"?, "value"}]}`, values as text like DHIS2
writes them. Identifiers come from the mapping file; with the codes it ships, import
with `idScheme=CODE`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.reporting.interop import DataPoint, Mapped, dhis2_period


def number_text(value: float | int) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def data_value_set(points: Sequence[DataPoint], mapped: Mapped) -> dict[str, Any]:
    values: list[dict[str, str]] = []
    for point in points:
        value = {
            "dataElement": mapped.data_element(point.indicator),
            "period": dhis2_period(point.period),
            "orgUnit": mapped.org_unit(point.unit_id),
            "categoryOptionCombo": mapped.category_option_combo(point.disaggregation),
        }
        attribute = mapped.attribute_option_combo(point.programme)
        if attribute is not None:
            value["attributeOptionCombo"] = attribute
        value["value"] = number_text(point.value)
        values.append(value)
    return {"dataSet": mapped.mapping.data_set, "dataValues": values}

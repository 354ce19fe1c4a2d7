"""Export files as Excel users open them: separators, decimals, whole numbers, layout."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from services.reporting.exports import Table, analytics_table, to_csv, to_xlsx, whole


def table() -> Table:
    return Table(
        "sample",
        ["Mã đơn vị", "Tên đơn vị", "Giá trị", "Tỷ lệ đạt (%)"],
        [["vn63:20", "Tỉnh Lạng Sơn", 1_500_000, 83.3], ["vn63:186", "Huyện Hữu Lũng", 2, None]],
        "Tiêu đề",
        percent=frozenset({"Tỷ lệ đạt (%)"}),
    )


def test_csv_in_english_and_vietnamese_excel() -> None:
    english = to_csv(table()).decode("utf-8-sig").splitlines()
    assert english[1] == "vn63:20,Tỉnh Lạng Sơn,1500000,83.3"
    vietnamese = to_csv(table(), "vi").decode("utf-8-sig").splitlines()
    assert vietnamese[0] == "Mã đơn vị;Tên đơn vị;Giá trị;Tỷ lệ đạt (%)"
    assert vietnamese[1] == "vn63:20;Tỉnh Lạng Sơn;1500000;83,3"
    assert vietnamese[2] == "vn63:186;Huyện Hữu Lũng;2;"
    assert to_csv(table(), "vi").startswith("\ufeff".encode())


def test_xlsx_has_a_title_a_frozen_header_widths_and_number_formats() -> None:
    sheet = load_workbook(io.BytesIO(to_xlsx(table()))).active
    assert sheet["A1"].value == "Tiêu đề"
    assert sheet["A1"].font.bold
    assert "A1:D1" in [str(cells) for cells in sheet.merged_cells.ranges]
    assert [cell.value for cell in sheet[2]] == table().headers
    assert sheet.freeze_panes == "A3"
    assert sheet.auto_filter.ref == "A2:D4"
    assert sheet["C3"].value == 1_500_000
    assert sheet["C3"].number_format == "#,##0"
    assert sheet["D3"].number_format == "0.0"
    assert sheet.column_dimensions["B"].width >= len("Huyện Hữu Lũng")


def test_whole_numbers_stay_whole() -> None:
    assert whole(40.0) == 40
    assert isinstance(whole(40.0), int)
    assert whole(1.5) == 1.5
    assert whole(None) is None


def test_analytics_table_names_indicator_unit_period_and_the_unit_asked() -> None:
    body = {
        "indicators": ["trainees"],
        "units": [{"unit_id": "vn63:20", "unit_name": "Tỉnh Lạng Sơn"}],
        "periods": [{"period": "2023"}],
        "by": ["level:district", "sex"],
        "rows": [
            {
                "indicator": "trainees",
                "within_unit_id": "vn63:20",
                "period": "2023",
                "unit_id": "vn63:186",
                "unit_name": "Huyện Hữu Lũng",
                "sex": "female",
                "value": 60.0,
            }
        ],
    }
    exported = analytics_table(body)
    assert exported.headers == [
        "Mã chỉ tiêu",
        "Tên chỉ tiêu",
        "Thuộc đơn vị",
        "Mã đơn vị",
        "Tên đơn vị",
        "Kỳ báo cáo",
        "Giới tính",
        "Giá trị",
        "Đơn vị tính",
    ]
    assert exported.rows == [
        [
            "trainees",
            "Số lượt học viên tập huấn",
            "vn63:20",
            "vn63:186",
            "Huyện Hữu Lũng",
            "2023",
            "Nữ",
            60,
            "lượt người",
        ]
    ]
    assert exported.title == "Số lượt học viên tập huấn — Tỉnh Lạng Sơn — 2023"

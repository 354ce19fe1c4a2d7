"""Upload templates: one XLSX per activity type, with Vietnamese headers.

The first sheet, named after the type, holds only the header row (required
columns marked `*`), so an untouched template imports nothing; the second sheet,
`Hướng dẫn`, explains every column and gives an example row.
"""

from __future__ import annotations

import io
from typing import Any

from services.events.columns import Column, columns_for

GUIDE_SHEET = "Hướng dẫn"
_EXAMPLE: dict[str, Any] = {
    "source_system": "langson-p8",
    "external_id": "HL-2023-0042",
    "programme": "P8",
    "unit_id": "vn63:06433",
    "title": "Tuyên truyền phòng, chống bạo lực học đường",
    "organiser": "CLB Thủ lĩnh của sự thay đổi trường THCS Vân Nham",
    "started_on": "2023-10-12",
    "ended_on": "2023-10-12",
    "participants.female": 31,
    "participants.male": 24,
    "participants.ethnic_minority": 40,
    "roles": "student=50; teacher=5",
    "topics": "school_violence; gender_equality",
    "budget_vnd": 0,
    "sessions": 8,
    "duration_days": 1.5,
    "support_kind": "scholarship",
    "beneficiaries.women": 0,
    "beneficiaries.children": 10,
    "value_vnd": 30000000,
    "school_year": "2016-2017",
    "grade": "good",
}


def header_text(column: Column) -> str:
    return f"{column.header} *" if column.required else column.header


def template_xlsx(activity_type: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    columns = columns_for(activity_type)
    book = Workbook()
    sheet = book.active
    sheet.title = activity_type
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    for position, column in enumerate(columns, 1):
        cell = sheet.cell(row=1, column=position, value=header_text(column))
        cell.font = bold
        cell.fill = fill
        letter = get_column_letter(position)
        sheet.column_dimensions[letter].width = max(14, len(column.header) + 4)
        if column.choices:
            rule = DataValidation(type="list", formula1=f'"{",".join(column.choices)}"')
            rule.add(f"{letter}2:{letter}5000")
            sheet.add_data_validation(rule)
    sheet.freeze_panes = "A2"

    guide = book.create_sheet(GUIDE_SHEET)
    guide.append(["Cột", "Trường JSON", "Bắt buộc", "Cách ghi", "Ví dụ"])
    for cell in guide[1]:
        cell.font = bold
    for column in columns:
        guide.append(
            [
                column.header,
                column.field,
                "có" if column.required else "",
                column.help,
                _EXAMPLE.get(column.field, ""),
            ]
        )
    guide.append([])
    guide.append(
        [
            "Mỗi dòng là một hoạt động, xác định bởi (Hệ thống nguồn, Mã bản ghi): "
            "gửi lại cùng dòng không tạo bản ghi mới."
        ]
    )
    for letter, width in zip("ABCDE", (30, 30, 10, 70, 40), strict=True):
        guide.column_dimensions[letter].width = width
    output = io.BytesIO()
    book.save(output)
    return output.getvalue()

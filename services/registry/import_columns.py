"""The columns of each import kind, and how a cell is read as its JSON field.

A file's first row names its columns, in Vietnamese (as in the template) or by the
JSON field name, in any order and case, with or without diacritics. Cells are read
leniently where a spreadsheet differs from JSON: dates as cells or as `2023-09-05` /
`05/09/2023`, `Nữ`/`Nam` for sex, `Có`/`Không` for booleans, Vietnamese labels for
kinds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from services.registry.folding import fold

Kind = Literal["sites", "clubs", "members", "classifications"]
KINDS: tuple[Kind, ...] = ("sites", "clubs", "members", "classifications")
CellType = Literal["text", "date", "int", "bool", "sex", "site_kind", "club_kind", "classification"]
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Column:
    field: str
    header: str  # Vietnamese header of the template
    required: bool
    cell: CellType
    description: str
    example: str


_SOURCE = Column(
    "source_system",
    "Mã hệ thống nguồn",
    True,
    "text",
    "Mã hệ thống của tỉnh gửi dữ liệu (chữ, số, . _ -)",
    "langson-sldtbxh",
)
_EXTERNAL = Column(
    "external_id",
    "Mã định danh",
    True,
    "text",
    "Mã của bản ghi trong hệ thống của tỉnh",
    "CLB-HL-01",
)
_UNIT = Column(
    "unit_id",
    "Mã đơn vị hành chính",
    True,
    "text",
    "Mã đơn vị: vn63:<mã> trước 01/7/2025, vn34:<mã> từ 01/7/2025; thôn: <mã xã>.<mã thôn>",
    "vn63:06433",
)

COLUMNS: dict[Kind, tuple[Column, ...]] = {
    "sites": (
        _SOURCE,
        _EXTERNAL,
        Column(
            "kind",
            "Loại điểm",
            True,
            "site_kind",
            "Trường học, Trung tâm học tập cộng đồng, Cộng đồng hoặc Cơ quan",
            "Trường học",
        ),
        Column(
            "name",
            "Tên điểm",
            True,
            "text",
            "Tên trường, trung tâm, cộng đồng, cơ quan",
            "Trường THCS Vân Nham",
        ),
        _UNIT,
    ),
    "clubs": (
        _SOURCE,
        _EXTERNAL,
        Column(
            "name",
            "Tên câu lạc bộ",
            True,
            "text",
            "Tên câu lạc bộ",
            "CLB Thủ lĩnh của sự thay đổi trường THCS Vân Nham",
        ),
        Column(
            "kind", "Loại câu lạc bộ", True, "club_kind", "Trường học hoặc Cộng đồng", "Trường học"
        ),
        Column("unit_id", _UNIT.header, True, "text", "Xã hoặc thôn của câu lạc bộ", "vn63:06433"),
        Column("site_id", "Mã điểm (id)", False, "text", "id của điểm do hệ thống cấp", ""),
        Column(
            "site_external_id",
            "Mã định danh điểm",
            False,
            "text",
            "Hoặc: mã định danh của điểm, cùng hệ thống nguồn",
            "THCS-VN",
        ),
        Column("programme", "Chương trình", True, "text", "P8, SFES, CLC …", "P8"),
        Column(
            "established_on",
            "Ngày thành lập",
            True,
            "date",
            "dd/mm/yyyy hoặc yyyy-mm-dd",
            "05/09/2023",
        ),
        Column("dissolved_on", "Ngày giải thể", False, "date", "Để trống nếu còn hoạt động", ""),
    ),
    "members": (
        Column(
            "source_system",
            _SOURCE.header,
            False,
            "text",
            "Hệ thống nguồn của câu lạc bộ (cùng với Mã định danh CLB)",
            "langson-sldtbxh",
        ),
        Column(
            "club_external_id",
            "Mã định danh CLB",
            False,
            "text",
            "Mã định danh của câu lạc bộ trong hệ thống của tỉnh",
            "CLB-HL-01",
        ),
        Column(
            "club_id", "Mã CLB (id)", False, "text", "Hoặc: id của câu lạc bộ do hệ thống cấp", ""
        ),
        Column(
            "member_code",
            "Mã thành viên",
            True,
            "text",
            "Mã bí danh của thành viên do tỉnh cấp (không ghi họ tên)",
            "HL01-0001",
        ),
        Column("sex", "Giới tính", True, "sex", "Nữ hoặc Nam", "Nữ"),
        Column("birth_year", "Năm sinh", False, "int", "Năm sinh (4 chữ số)", "2010"),
        Column("ethnicity", "Dân tộc", False, "text", "Mã dân tộc (01 Kinh … 54) hoặc tên", "02"),
        Column(
            "ethnic_minority",
            "Dân tộc thiểu số",
            False,
            "bool",
            "Có hoặc Không; bỏ trống nếu đã ghi Dân tộc",
            "Có",
        ),
        Column(
            "joined_on", "Ngày tham gia", True, "date", "dd/mm/yyyy hoặc yyyy-mm-dd", "05/09/2023"
        ),
        Column("left_on", "Ngày rời câu lạc bộ", False, "date", "Để trống nếu còn tham gia", ""),
    ),
    "classifications": (
        _UNIT,
        Column(
            "name",
            "Phân loại",
            True,
            "classification",
            "Khu vực (region) hoặc Đặc biệt khó khăn (especially_difficult)",
            "Khu vực",
        ),
        Column(
            "value",
            "Giá trị",
            True,
            "text",
            "I, II hoặc III cho Khu vực; Có hoặc Không cho Đặc biệt khó khăn",
            "III",
        ),
        Column("valid_from", "Từ ngày", True, "date", "dd/mm/yyyy hoặc yyyy-mm-dd", "01/01/2021"),
        Column("valid_to", "Đến ngày", False, "date", "Để trống nếu chưa kết thúc", "31/12/2025"),
    ),
}

_LABELS: dict[CellType, dict[str, str]] = {
    "sex": {
        "nu": "female",
        "female": "female",
        "f": "female",
        "nam": "male",
        "male": "male",
        "m": "male",
    },
    "site_kind": {
        "truong hoc": "school",
        "truong": "school",
        "school": "school",
        "trung tam hoc tap cong dong": "learning_centre",
        "learning_centre": "learning_centre",
        "cong dong": "community",
        "community": "community",
        "co quan": "agency",
        "agency": "agency",
    },
    "club_kind": {
        "truong hoc": "school",
        "truong": "school",
        "school": "school",
        "cong dong": "community",
        "community": "community",
    },
    "classification": {
        "khu vuc": "region",
        "region": "region",
        "dac biet kho khan": "especially_difficult",
        "dbkk": "especially_difficult",
        "especially_difficult": "especially_difficult",
    },
}
_TRUE = {"co", "x", "true", "1", "yes", "dung"}
_FALSE = {"khong", "false", "0", "no", "sai"}


def read_bool(value: Any) -> Any:
    """`Có`/`Không`, `x`, `true`/`false`, `1`/`0` as booleans; anything else unchanged."""
    if isinstance(value, bool):
        return value
    folded = fold(str(value))
    return True if folded in _TRUE else False if folded in _FALSE else value


def convert(column: Column, value: Any) -> Any:
    """A cell as the JSON field expects it (unrecognised text is left for validation)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if column.cell == "date":
        if isinstance(value, datetime):
            return value.date().isoformat()
        if isinstance(value, date):
            return value.isoformat()
        text = str(value).strip()
        parts = text.split("/")
        if len(parts) == 3 and all(part.isdigit() for part in parts):
            day, month, year = (int(part) for part in parts)
            try:
                return date(year, month, day).isoformat()
            except ValueError:
                return text
        return text
    if column.cell == "int":
        if isinstance(value, float) and value.is_integer():
            return int(value)
        text = str(value).strip()
        return int(text) if text.isdigit() else text
    if column.cell == "bool":
        return read_bool(value)
    if column.cell in _LABELS:
        return _LABELS[column.cell].get(fold(str(value)), str(value).strip())
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value).strip()

"""The columns of activity upload files: Vietnamese headers, JSON fields, cell kinds.

A file may use the Vietnamese header of the template or the JSON field name
(`participants.female` or `Số nữ tham gia`); case, spacing and a trailing `*`
(required) do not matter.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

from shared.contracts import ACTIVITY_TYPES

CellKind = Literal["text", "date", "count", "number", "list", "mapping"]


@dataclass(frozen=True)
class Column:
    field: str
    header: str
    kind: CellKind
    help: str
    required: bool = False
    choices: tuple[str, ...] = ()

    @property
    def path(self) -> list[str]:
        return self.field.split(".")


TYPE_COLUMN = Column(
    "type",
    "Loại hoạt động",
    "text",
    "Mã loại hoạt động; để trống thì lấy theo tên trang tính hoặc tham số ?type=",
    choices=ACTIVITY_TYPES,
)
COMMON_COLUMNS = (
    Column(
        "source_system", "Hệ thống nguồn", "text", "Mã hệ thống của tỉnh, ví dụ langson-p8", True
    ),
    Column("external_id", "Mã bản ghi", "text", "Mã của hoạt động trong hệ thống nguồn", True),
    Column("programme", "Mã chương trình", "text", "P8, SFES, CLC …", True),
    Column(
        "unit_id",
        "Mã đơn vị hành chính",
        "text",
        "vn63:<mã> trước 01/07/2025, vn34:<mã> từ 01/07/2025; thôn: vn63:06433.T05",
        True,
    ),
    Column("club_id", "Mã câu lạc bộ", "text", "Mã CLB do hệ thống đăng ký cấp"),
    Column("site_id", "Mã cơ sở", "text", "Mã trường học, trung tâm học tập cộng đồng …"),
    Column("title", "Tên hoạt động", "text", "Tên hoặc nội dung hoạt động", True),
    Column("organiser", "Đơn vị tổ chức", "text", "Cơ quan, CLB tổ chức"),
    Column("started_on", "Ngày bắt đầu", "date", "YYYY-MM-DD hoặc DD/MM/YYYY", True),
    Column("ended_on", "Ngày kết thúc", "date", "YYYY-MM-DD hoặc DD/MM/YYYY", True),
    Column("participants.female", "Số nữ tham gia", "count", "Số nguyên ≥ 0"),
    Column("participants.male", "Số nam tham gia", "count", "Số nguyên ≥ 0"),
    Column(
        "participants.ethnic_minority",
        "Số người dân tộc thiểu số",
        "count",
        "Trong số người tham gia; không vượt quá tổng nữ + nam",
    ),
    Column("roles", "Thành phần tham gia", "mapping", "vai_trò=số; … ví dụ student=50; teacher=5"),
    Column("topics", "Chủ đề", "list", "Mã chủ đề cách nhau bởi dấu ; ví dụ school_violence"),
    Column("budget_vnd", "Kinh phí (đồng)", "count", "Số nguyên, đơn vị đồng"),
)
TYPE_COLUMNS: dict[str, tuple[Column, ...]] = {
    "training_course": (
        Column("sessions", "Số lớp", "count", "Số lớp hoặc buổi tập huấn (≥ 1)", True),
        Column("duration_days", "Số ngày", "number", "Thời lượng, ví dụ 1,5", True),
    ),
    "support_delivery": (
        Column(
            "support_kind",
            "Hình thức hỗ trợ",
            "text",
            "scholarship, gift, cash, health, legal, shelter, other",
            True,
            ("scholarship", "gift", "cash", "health", "legal", "shelter", "other"),
        ),
        Column("beneficiaries.women", "Số phụ nữ được hỗ trợ", "count", "Số nguyên ≥ 0"),
        Column("beneficiaries.children", "Số trẻ em được hỗ trợ", "count", "Số nguyên ≥ 0"),
        Column("value_vnd", "Giá trị hỗ trợ (đồng)", "count", "Số nguyên, đơn vị đồng"),
    ),
    "school_exchange": (
        Column("partner_site_ids", "Mã các trường giao lưu", "list", "Cách nhau bởi dấu ;"),
    ),
    "learning_centre_rating": (
        Column("school_year", "Năm học", "text", "Ví dụ 2016-2017", True),
        Column(
            "grade",
            "Xếp loại",
            "text",
            "excellent, good, average, weak",
            True,
            ("excellent", "good", "average", "weak"),
        ),
    ),
}
# Types whose template marks a reference column as required.
REQUIRED_REFERENCE = {
    "club_meeting": "club_id",
    "learning_centre_class": "site_id",
    "learning_centre_rating": "site_id",
}


def columns_for(activity_type: str) -> list[Column]:
    """The template's columns for one type, in order."""
    required = REQUIRED_REFERENCE.get(activity_type)
    columns = [
        Column(c.field, c.header, c.kind, c.help, True, c.choices) if c.field == required else c
        for c in COMMON_COLUMNS
    ]
    return [*columns, *TYPE_COLUMNS.get(activity_type, ())]


def header_key(text: str) -> str:
    """How headers are compared: NFC, case-folded, single spaces, no trailing `*`."""
    folded = unicodedata.normalize("NFC", text).strip().rstrip("*").strip().casefold()
    return " ".join(folded.split())


def _all_columns() -> dict[str, Column]:
    known: dict[str, Column] = {}
    for column in [TYPE_COLUMN, *COMMON_COLUMNS, *(c for cs in TYPE_COLUMNS.values() for c in cs)]:
        known[header_key(column.header)] = column
        known[header_key(column.field)] = column
    return known


COLUMNS_BY_HEADER = _all_columns()

"""The columns of activity uploads: Vietnamese headers, JSON fields, cell kinds.

A file may use the Vietnamese header of the template or the JSON field name
(`participants.female` or `Số nữ tham gia`); case, diacritics, spacing and a
trailing `*` (required) do not matter (see `shared.edge.spreadsheets`).
"""

from __future__ import annotations

from shared.contracts import ACTIVITY_TYPES
from shared.edge.spreadsheets import Choice, Column

TYPE_LABELS = {
    "club_meeting": "Sinh hoạt câu lạc bộ",
    "communication_session": "Truyền thông",
    "training_course": "Tập huấn",
    "forum": "Diễn đàn",
    "support_delivery": "Hỗ trợ",
    "school_exchange": "Giao lưu trường học",
    "learning_centre_class": "Lớp học cộng đồng",
    "learning_centre_rating": "Xếp loại trung tâm học tập cộng đồng",
}
TYPE_COLUMN = Column(
    "type",
    "Loại hoạt động",
    "choice",
    "Loại hoạt động; để trống thì lấy theo tên trang tính hoặc tham số ?type=",
    choices=tuple(Choice(name, TYPE_LABELS[name], (name,)) for name in ACTIVITY_TYPES),
    example="Truyền thông",
)
COMMON_COLUMNS = (
    Column(
        "source_system",
        "Hệ thống nguồn",
        "text",
        "Mã hệ thống của tỉnh, ví dụ langson-p8",
        True,
        example="langson-p8",
    ),
    Column(
        "external_id",
        "Mã bản ghi",
        "text",
        "Mã của hoạt động trong hệ thống nguồn",
        True,
        example="HL-2023-0042",
    ),
    Column("programme", "Mã chương trình", "text", "P8, SFES, CLC …", True, example="P8"),
    Column(
        "unit_id",
        "Mã đơn vị hành chính",
        "text",
        "vn63:<mã> trước 01/07/2025, vn34:<mã> từ 01/07/2025; thôn: vn63:06433.T05",
        True,
        example="vn63:06433",
    ),
    Column("club_id", "Mã câu lạc bộ", "text", "Mã CLB do hệ thống đăng ký cấp"),
    Column("site_id", "Mã cơ sở", "text", "Mã trường học, trung tâm học tập cộng đồng …"),
    Column(
        "title",
        "Tên hoạt động",
        "text",
        "Tên hoặc nội dung hoạt động",
        True,
        example="Tuyên truyền phòng, chống bạo lực học đường",
    ),
    Column(
        "organiser",
        "Đơn vị tổ chức",
        "text",
        "Cơ quan, CLB tổ chức",
        example="CLB Thủ lĩnh của sự thay đổi trường THCS Vân Nham",
    ),
    Column(
        "started_on",
        "Ngày bắt đầu",
        "date",
        "DD/MM/YYYY hoặc YYYY-MM-DD; không sau hôm nay",
        True,
        example="12/10/2023",
    ),
    Column(
        "ended_on",
        "Ngày kết thúc",
        "date",
        "DD/MM/YYYY hoặc YYYY-MM-DD",
        True,
        example="12/10/2023",
    ),
    Column("participants.female", "Số nữ tham gia", "count", "Số nguyên ≥ 0", example=31),
    Column("participants.male", "Số nam tham gia", "count", "Số nguyên ≥ 0", example=24),
    Column(
        "participants.ethnic_minority",
        "Số người dân tộc thiểu số",
        "count",
        "Trong số người tham gia; không vượt quá tổng nữ + nam",
        example=40,
    ),
    Column(
        "roles",
        "Thành phần tham gia",
        "mapping",
        "vai_trò=số; … ví dụ student=50; teacher=5",
        example="student=50; teacher=5",
    ),
    Column(
        "topics",
        "Chủ đề",
        "list",
        "Mã chủ đề cách nhau bởi dấu ; ví dụ school_violence",
        example="school_violence; gender_equality",
    ),
    Column("budget_vnd", "Kinh phí (đồng)", "count", "Số nguyên, đơn vị đồng", example=0),
)
TYPE_COLUMNS: dict[str, tuple[Column, ...]] = {
    "training_course": (
        Column("sessions", "Số lớp", "count", "Số lớp hoặc buổi tập huấn (≥ 1)", True, example=8),
        Column("duration_days", "Số ngày", "number", "Thời lượng, ví dụ 1,5", True, example=1.5),
    ),
    "support_delivery": (
        Column(
            "support_kind",
            "Hình thức hỗ trợ",
            "choice",
            "Hình thức hỗ trợ",
            True,
            (
                Choice("scholarship", "Học bổng"),
                Choice("gift", "Quà tặng"),
                Choice("cash", "Tiền mặt"),
                Choice("health", "Y tế"),
                Choice("legal", "Pháp lý"),
                Choice("shelter", "Nơi ở"),
                Choice("other", "Khác"),
            ),
            example="Học bổng",
        ),
        Column("beneficiaries.women", "Số phụ nữ được hỗ trợ", "count", "Số nguyên ≥ 0", example=0),
        Column(
            "beneficiaries.children", "Số trẻ em được hỗ trợ", "count", "Số nguyên ≥ 0", example=10
        ),
        Column(
            "value_vnd",
            "Giá trị hỗ trợ (đồng)",
            "count",
            "Số nguyên, đơn vị đồng",
            example=30000000,
        ),
    ),
    "school_exchange": (
        Column("partner_site_ids", "Mã các trường giao lưu", "list", "Cách nhau bởi dấu ;"),
    ),
    "learning_centre_rating": (
        Column("school_year", "Năm học", "text", "Ví dụ 2016-2017", True, example="2016-2017"),
        Column(
            "grade",
            "Xếp loại",
            "choice",
            "Xếp loại của trung tâm",
            True,
            (
                Choice("excellent", "Xuất sắc"),
                Choice("good", "Tốt"),
                Choice("average", "Trung bình"),
                Choice("weak", "Yếu"),
            ),
            example="Tốt",
        ),
    ),
}
# Types whose template marks a reference column as required.
REQUIRED_REFERENCE = {
    "club_meeting": "club_id",
    "learning_centre_class": "site_id",
    "learning_centre_rating": "site_id",
}
# Every column a file may have, whatever its types, and those its header must name.
ALL_COLUMNS = (TYPE_COLUMN, *COMMON_COLUMNS, *(c for cs in TYPE_COLUMNS.values() for c in cs))
REQUIRED_COLUMNS = tuple(column for column in COMMON_COLUMNS if column.required)


def columns_for(activity_type: str) -> list[Column]:
    """The template's columns for one type, in order."""
    required = REQUIRED_REFERENCE.get(activity_type)
    columns = [
        Column(c.field, c.header, c.cell, c.help, True, c.choices, c.example)
        if c.field == required
        else c
        for c in COMMON_COLUMNS
    ]
    return [*columns, *TYPE_COLUMNS.get(activity_type, ())]

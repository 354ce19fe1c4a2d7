"""The columns of each registry upload kind, as the templates name them.

A file's first row names its columns, in Vietnamese (as in the template) or by the
JSON field name (see `shared.edge.spreadsheets`, which reads every cell: dates as
cells or as `05/09/2023` / `2023-09-05`, `Nữ`/`Nam`, `Có`/`Không`, Vietnamese labels
for kinds).
"""

from __future__ import annotations

from typing import Literal

from shared.edge.spreadsheets import Choice, Column

Kind = Literal["sites", "clubs", "members", "classifications"]
KINDS: tuple[Kind, ...] = ("sites", "clubs", "members", "classifications")

_SOURCE = Column(
    "source_system",
    "Mã hệ thống nguồn",
    "text",
    "Mã hệ thống của tỉnh gửi dữ liệu (chữ, số, . _ -)",
    True,
    example="langson-sldtbxh",
)
_EXTERNAL = Column(
    "external_id",
    "Mã định danh",
    "text",
    "Mã của bản ghi trong hệ thống của tỉnh",
    True,
    example="CLB-HL-01",
)
_UNIT = Column(
    "unit_id",
    "Mã đơn vị hành chính",
    "text",
    "Mã đơn vị: vn63:<mã> trước 01/7/2025, vn34:<mã> từ 01/7/2025; thôn: <mã xã>.<mã thôn>",
    True,
    example="vn63:06433",
)
SITE_KINDS = (
    Choice("school", "Trường học", ("truong",)),
    Choice("learning_centre", "Trung tâm học tập cộng đồng", ("tthtcd",)),
    Choice("community", "Cộng đồng"),
    Choice("agency", "Cơ quan"),
)
CLUB_KINDS = (Choice("school", "Trường học", ("truong",)), Choice("community", "Cộng đồng"))
SEXES = (Choice("female", "Nữ", ("f",)), Choice("male", "Nam", ("m",)))
CLASSIFICATION_NAMES = (
    Choice("region", "Khu vực"),
    Choice("especially_difficult", "Đặc biệt khó khăn", ("dbkk",)),
)

COLUMNS: dict[Kind, tuple[Column, ...]] = {
    "sites": (
        _SOURCE,
        _EXTERNAL,
        Column("kind", "Loại điểm", "choice", "Loại điểm", True, SITE_KINDS, "Trường học"),
        Column(
            "name",
            "Tên điểm",
            "text",
            "Tên trường, trung tâm, cộng đồng, cơ quan",
            True,
            example="Trường THCS Vân Nham",
        ),
        _UNIT,
    ),
    "clubs": (
        _SOURCE,
        _EXTERNAL,
        Column(
            "name",
            "Tên câu lạc bộ",
            "text",
            "Tên câu lạc bộ",
            True,
            example="CLB Thủ lĩnh của sự thay đổi trường THCS Vân Nham",
        ),
        Column("kind", "Loại câu lạc bộ", "choice", "Loại CLB", True, CLUB_KINDS, "Trường học"),
        Column(
            "unit_id",
            _UNIT.header,
            "text",
            "Xã hoặc thôn của câu lạc bộ",
            True,
            example="vn63:06433",
        ),
        Column("site_id", "Mã điểm (id)", "text", "id của điểm do hệ thống cấp"),
        Column(
            "site_external_id",
            "Mã định danh điểm",
            "text",
            "Hoặc: mã định danh của điểm, cùng hệ thống nguồn",
            example="THCS-VN",
        ),
        Column("programme", "Chương trình", "text", "P8, SFES, CLC …", True, example="P8"),
        Column(
            "established_on",
            "Ngày thành lập",
            "date",
            "dd/mm/yyyy hoặc yyyy-mm-dd; không sau hôm nay",
            True,
            example="05/09/2023",
        ),
        Column("dissolved_on", "Ngày giải thể", "date", "Để trống nếu còn hoạt động"),
    ),
    "members": (
        Column(
            "source_system",
            _SOURCE.header,
            "text",
            "Hệ thống nguồn của câu lạc bộ (cùng với Mã định danh CLB)",
            example="langson-sldtbxh",
        ),
        Column(
            "club_external_id",
            "Mã định danh CLB",
            "text",
            "Mã định danh của câu lạc bộ trong hệ thống của tỉnh",
            example="CLB-HL-01",
        ),
        Column("club_id", "Mã CLB (id)", "text", "Hoặc: id của câu lạc bộ do hệ thống cấp"),
        Column(
            "member_code",
            "Mã thành viên",
            "text",
            "Mã bí danh của thành viên do tỉnh cấp (không ghi họ tên)",
            True,
            example="HL01-0001",
        ),
        Column("sex", "Giới tính", "choice", "Giới tính", True, SEXES, "Nữ"),
        Column("birth_year", "Năm sinh", "int", "Năm sinh (4 chữ số)", example=2010),
        Column("ethnicity", "Dân tộc", "text", "Mã dân tộc (01 Kinh … 54) hoặc tên", example="02"),
        Column(
            "ethnic_minority",
            "Dân tộc thiểu số",
            "bool",
            "Có hoặc Không; bỏ trống nếu đã ghi Dân tộc",
            example="Có",
        ),
        Column(
            "joined_on",
            "Ngày tham gia",
            "date",
            "dd/mm/yyyy hoặc yyyy-mm-dd; không sau hôm nay",
            True,
            example="05/09/2023",
        ),
        Column("left_on", "Ngày rời câu lạc bộ", "date", "Để trống nếu còn tham gia"),
    ),
    "classifications": (
        _UNIT,
        Column(
            "name",
            "Phân loại",
            "choice",
            "Khu vực (region) hoặc Đặc biệt khó khăn (especially_difficult)",
            True,
            CLASSIFICATION_NAMES,
            "Khu vực",
        ),
        Column(
            "value",
            "Giá trị",
            "text",
            "I, II hoặc III cho Khu vực; Có hoặc Không cho Đặc biệt khó khăn",
            True,
            example="III",
        ),
        Column(
            "valid_from",
            "Từ ngày",
            "date",
            "dd/mm/yyyy hoặc yyyy-mm-dd",
            True,
            example="01/01/2021",
        ),
        Column("valid_to", "Đến ngày", "date", "Để trống nếu chưa kết thúc", example="31/12/2025"),
    ),
}

"""Activity bodies as a province would send them."""

from __future__ import annotations

from typing import Any

SOURCE = "langson-p8"


def communication_session(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "communication_session",
        "programme": "P8",
        "unit_id": "vn63:06433",
        "club_id": None,
        "site_id": None,
        "title": "Tuyên truyền phòng, chống bạo lực học đường",
        "organiser": "CLB Thủ lĩnh của sự thay đổi trường THCS Vân Nham",
        "started_on": "2023-10-12",
        "ended_on": "2023-10-12",
        "participants": {"female": 31, "male": 24, "ethnic_minority": 40},
        "roles": {"student": 50, "teacher": 5},
        "topics": ["school_violence", "gender_equality"],
        "budget_vnd": 0,
    }
    body.update(changes)
    return body


def club_meeting(club_id: str, **changes: Any) -> dict[str, Any]:
    body = communication_session(type="club_meeting", club_id=club_id, title="Sinh hoạt CLB")
    body.update(changes)
    return body


def batch_item(external_id: str, body: dict[str, Any], source: str = SOURCE) -> dict[str, Any]:
    return {"source_system": source, "external_id": external_id, **body}

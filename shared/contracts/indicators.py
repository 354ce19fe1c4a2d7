"""The indicator codes of the reporting catalogue: targets name them, reporting defines
and computes them (services/reporting/catalogue.py, checked against this list)."""

from __future__ import annotations

INDICATOR_CODES: tuple[str, ...] = (
    "clubs_active",
    "club_members",
    "club_meetings",
    "communication_sessions",
    "communication_participants",
    "training_courses",
    "trainees",
    "training_days",
    "forums",
    "forum_participants",
    "support_recipients",
    "support_value_vnd",
    "school_exchanges",
    "learning_centre_classes",
    "learning_centre_attendance",
    "learning_centre_ratings",
    "people_reached",
    "budget_vnd",
)

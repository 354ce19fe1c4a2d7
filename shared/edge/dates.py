"""Dates as every service checks them: Viet Nam's calendar day, and no future dates.

Viet Nam keeps UTC+7 all year, so "today" for a province is the date there. A date
a province reports (an activity's start, a member joining, a club founded) cannot
lie after today: each service refuses it with the same words.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone

from shared.edge.i18n import say
from shared.edge.problems import FieldError, field_error

VIETNAM = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")


def today_in_vietnam() -> date:
    return datetime.now(UTC).astimezone(VIETNAM).date()


def future_date_error(loc: Sequence[str | int], day: date, today: date) -> FieldError | None:
    """The error for a reported date after `today`, or `None` when it is not."""
    if day <= today:
        return None
    name = str(loc[-1]) if loc else "date"
    return field_error(
        loc,
        say(
            f"{name} {day.isoformat()} is in the future (today is {today.isoformat()} in Vietnam)",
            f"{name} {day.isoformat()} là ngày trong tương lai (hôm nay là "
            f"{today.isoformat()} theo giờ Việt Nam)",
        ),
    )

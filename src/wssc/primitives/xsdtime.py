"""xsd:dateTime as WS-Security writes and reads it (WSS 1.1 SOAP Message Security section 10: UTC)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Final

from wssc.errors import InvalidSecurity
from wssc.primitives.memo import remembered

#: the text of whole seconds written lately, by (second, minute, hour, day, month, year): a message writes two or
#: three times (now, and now plus a lifetime), mostly within the same seconds as the messages before it, and
#: ``isoformat`` costs twice the rest of a call
_SECONDS: dict[tuple[int, ...], str] = {}
_SECONDS_KEPT: Final = 16


def format_time(moment: datetime) -> str:
    """xsd:dateTime in UTC with milliseconds and ``Z``, as WCF writes it."""
    if moment.tzinfo is not timezone.utc:
        moment = moment.astimezone(timezone.utc)
    key = (moment.second, moment.minute, moment.hour, moment.day, moment.month, moment.year)
    whole = remembered(_SECONDS, key, lambda: moment.replace(microsecond=0, tzinfo=None).isoformat(), _SECONDS_KEPT)
    return f"{whole}.{moment.microsecond // 1000:03d}Z"


def parse_time(text: str | None) -> datetime:
    """Parse an xsd:dateTime; a value without a zone is refused (WSS 1.1 section 10 requires UTC)."""
    value = (text or "").strip()
    if not value:
        raise InvalidSecurity("empty time value")
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidSecurity(f"bad time value {text!r}") from None
    if moment.tzinfo is timezone.utc:  # "Z" and "+00:00" (fromisoformat's UTC is the singleton)
        return moment
    if moment.tzinfo is None:
        raise InvalidSecurity("time value without a time zone")
    return moment.astimezone(timezone.utc)

"""xsd:dateTime as WS-Security writes and reads it (WSS 1.1 SOAP Message Security section 10: UTC)."""

from __future__ import annotations

from datetime import datetime, timezone

from wssc.errors import InvalidSecurity


def format_time(moment: datetime) -> str:
    """xsd:dateTime in UTC with milliseconds and ``Z``, as WCF writes it."""
    if moment.tzinfo is not timezone.utc:
        moment = moment.astimezone(timezone.utc)
    return moment.isoformat(timespec="milliseconds")[:-6] + "Z"


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

"""Half-open date ranges and small calendar helpers."""

import calendar
from datetime import date, timedelta

_DATE_SEPARATORS = ("-", "/", ".")


def parse_date(text):
    """Parse ``YYYY-MM-DD`` (also accepting ``/`` or ``.`` as separators)."""
    text = text.strip()
    for sep in _DATE_SEPARATORS:
        if sep in text:
            parts = text.split(sep)
            break
    else:
        if len(text) == 8 and text.isdigit():
            parts = [text[:4], text[4:6], text[6:]]
        else:
            raise ValueError(f"unrecognised date: {text!r}")
    if len(parts) != 3 or len(parts[0]) != 4:
        raise ValueError(f"unrecognised date: {text!r}")
    try:
        year, month, day = (int(p) for p in parts)
        return date(year, month, day)
    except ValueError:
        raise ValueError(f"invalid date: {text!r}") from None


def add_months(day, months):
    """Shift *day* by whole months, clamping to the end of shorter months."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


class DateRange:
    """A half-open interval of days: ``start`` is included, ``end`` is not."""

    __slots__ = ("start", "end")

    def __init__(self, start, end):
        if end < start:
            raise ValueError(f"range ends before it starts: {start} > {end}")
        self.start = start
        self.end = end

    @classmethod
    def month(cls, year, month):
        first = date(year, month, 1)
        return cls(first, add_months(first, 1))

    @classmethod
    def parse(cls, text):
        """Parse ``2024-01-01..2024-02-01`` or a bare month like ``2024-03``."""
        if ".." in text:
            left, right = text.split("..", 1)
            return cls(parse_date(left), parse_date(right))
        pieces = text.strip().split("-")
        if len(pieces) == 2:
            return cls.month(int(pieces[0]), int(pieces[1]))
        raise ValueError(f"unrecognised range: {text!r}")

    @property
    def days(self):
        return (self.end - self.start).days

    def is_empty(self):
        return self.start == self.end

    def __contains__(self, day):
        return self.start <= day < self.end

    def __eq__(self, other):
        if not isinstance(other, DateRange):
            return NotImplemented
        return (self.start, self.end) == (other.start, other.end)

    def __hash__(self):
        return hash((self.start, self.end))

    def __repr__(self):
        return f"DateRange({self.start.isoformat()}, {self.end.isoformat()})"

    def overlaps(self, other):
        return self.start < other.end and other.start < self.end

    def intersection(self, other):
        """Return the shared part of two ranges, or ``None`` if disjoint."""
        if not self.overlaps(other):
            return None
        return DateRange(max(self.start, other.start), min(self.end, other.end))

    def iter_days(self, step=1):
        if step < 1:
            raise ValueError("step must be positive")
        current = self.start
        while current < self.end:
            yield current
            current += timedelta(days=step)

    def split_months(self):
        """Cut the range at month boundaries."""
        pieces = []
        cursor = self.start
        while cursor < self.end:
            boundary = add_months(cursor.replace(day=1), 1)
            stop = min(boundary, self.end)
            pieces.append(DateRange(cursor, stop))
            cursor = stop
        return pieces


def merge_ranges(ranges):
    """Merge overlapping or touching ranges; empty ranges are dropped."""
    ordered = sorted((r for r in ranges if not r.is_empty()), key=lambda r: r.start)
    merged = []
    for current in ordered:
        if merged and current.start <= merged[-1].end:
            last = merged[-1]
            if current.end > last.end:
                merged[-1] = DateRange(last.start, current.end)
            continue
        merged.append(current)
    return merged

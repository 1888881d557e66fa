from datetime import date

import pytest

from tallyho.periods import DateRange, add_months, merge_ranges, parse_date


def d(text):
    return date.fromisoformat(text)


@pytest.mark.parametrize("text", ["2024-03-07", "2024/03/07", "2024.03.07", " 20240307 "])
def test_parse_date_formats(text):
    assert parse_date(text) == date(2024, 3, 7)


def test_parse_date_compact_form():
    assert parse_date("20241231") == date(2024, 12, 31)


def test_parse_date_errors():
    for text in ["07-03-2024", "2024-03", "2024-03-07-01", "yesterday", "2024031"]:
        with pytest.raises(ValueError, match="unrecognised date"):
            parse_date(text)
    for text in ["2024-02-30", "2024-13-01", "2024-aa-01"]:
        with pytest.raises(ValueError, match="invalid date"):
            parse_date(text)


def test_add_months():
    assert add_months(d("2024-01-31"), 1) == d("2024-02-29")
    assert add_months(d("2023-01-31"), 1) == d("2023-02-28")
    assert add_months(d("2024-03-15"), 12) == d("2025-03-15")
    assert add_months(d("2024-11-30"), 2) == d("2025-01-30")
    assert add_months(d("2024-12-01"), 1) == d("2025-01-01")
    assert add_months(d("2024-01-10"), -1) == d("2023-12-10")
    assert add_months(d("2024-05-31"), -3) == d("2024-02-29")
    assert add_months(d("2024-05-31"), 0) == d("2024-05-31")


def test_range_basics():
    r = DateRange(d("2024-01-30"), d("2024-02-02"))
    assert r.days == 3
    assert not r.is_empty()
    assert d("2024-01-30") in r
    assert d("2024-02-01") in r
    assert d("2024-02-02") not in r
    assert d("2024-01-29") not in r
    assert repr(r) == "DateRange(2024-01-30, 2024-02-02)"
    empty = DateRange(d("2024-01-01"), d("2024-01-01"))
    assert empty.is_empty() and empty.days == 0
    with pytest.raises(ValueError, match="ends before"):
        DateRange(d("2024-01-02"), d("2024-01-01"))


def test_range_equality_and_hash():
    a = DateRange(d("2024-01-01"), d("2024-02-01"))
    assert a == DateRange.month(2024, 1)
    assert a != DateRange(d("2024-01-01"), d("2024-01-31"))
    assert a != DateRange(d("2024-01-02"), d("2024-02-01"))
    assert len({a, DateRange.month(2024, 1)}) == 1
    assert (a == "2024-01") is False


def test_month_and_parse():
    assert DateRange.month(2024, 2).days == 29
    assert DateRange.month(2024, 12) == DateRange(d("2024-12-01"), d("2025-01-01"))
    assert DateRange.parse("2024-03") == DateRange.month(2024, 3)
    assert DateRange.parse("2024-01-05..2024-01-09") == DateRange(d("2024-01-05"), d("2024-01-09"))
    for bad in ["2024", "2024-01-01", "soon"]:
        with pytest.raises(ValueError):
            DateRange.parse(bad)


def test_overlaps_and_intersection():
    jan = DateRange.month(2024, 1)
    feb = DateRange.month(2024, 2)
    mid = DateRange(d("2024-01-20"), d("2024-02-10"))
    assert not jan.overlaps(feb) and not feb.overlaps(jan)
    assert jan.overlaps(mid) and mid.overlaps(feb)
    assert jan.intersection(feb) is None
    assert jan.intersection(mid) == DateRange(d("2024-01-20"), d("2024-02-01"))
    assert mid.intersection(feb) == DateRange(d("2024-02-01"), d("2024-02-10"))
    inner = DateRange(d("2024-01-05"), d("2024-01-06"))
    assert jan.intersection(inner) == inner


def test_iter_days():
    r = DateRange(d("2024-02-27"), d("2024-03-02"))
    assert list(r.iter_days()) == [d("2024-02-27"), d("2024-02-28"), d("2024-02-29"), d("2024-03-01")]
    assert list(r.iter_days(step=2)) == [d("2024-02-27"), d("2024-02-29")]
    assert list(DateRange(d("2024-01-01"), d("2024-01-01")).iter_days()) == []
    with pytest.raises(ValueError, match="step"):
        list(r.iter_days(step=0))


def test_split_months():
    r = DateRange(d("2024-01-15"), d("2024-03-10"))
    assert r.split_months() == [
        DateRange(d("2024-01-15"), d("2024-02-01")),
        DateRange.month(2024, 2),
        DateRange(d("2024-03-01"), d("2024-03-10")),
    ]
    assert DateRange.month(2024, 5).split_months() == [DateRange.month(2024, 5)]
    assert DateRange(d("2024-05-05"), d("2024-05-05")).split_months() == []


def test_merge_ranges():
    a = DateRange(d("2024-01-01"), d("2024-01-10"))
    b = DateRange(d("2024-01-05"), d("2024-01-08"))
    c = DateRange(d("2024-01-10"), d("2024-01-12"))
    e = DateRange(d("2024-02-01"), d("2024-02-03"))
    empty = DateRange(d("2024-03-01"), d("2024-03-01"))
    assert merge_ranges([e, c, b, a, empty]) == [DateRange(d("2024-01-01"), d("2024-01-12")), e]
    assert merge_ranges([a, b]) == [a]
    assert merge_ranges([]) == []
    gap = DateRange(d("2024-01-11"), d("2024-01-15"))
    assert merge_ranges([a, gap]) == [a, gap]

from decimal import Decimal

import pytest

from tallyho.errors import CurrencyMismatch, TallyError
from tallyho.money import Money, minor_units, total


def test_construction_normalises_amount_and_currency():
    m = Money(" 1,234.50 ", " eur ")
    assert m.amount == Decimal("1234.50")
    assert m.currency == "EUR"
    assert Money(7).currency == "USD"
    assert Money("1_000").amount == 1000


def test_invalid_amounts_raise_value_error():
    for bad in ["abc", "", "NaN", "Infinity", "-inf", None]:
        with pytest.raises(ValueError):
            Money(bad)


def test_float_is_rejected():
    with pytest.raises(TypeError):
        Money(1.5)


def test_invalid_currency_codes():
    for code in ["US", "USDX", "12$", "", "U1D"]:
        with pytest.raises(ValueError, match="invalid currency"):
            Money(1, code)


def test_money_is_immutable():
    m = Money(1)
    with pytest.raises(AttributeError):
        m.amount = Decimal(2)


PARSE_CASES = [
    ("12.50 EUR", Money("12.50", "EUR")),
    ("EUR 12.50", Money("12.50", "EUR")),
    ("-3", Money(-3, "GBP")),
    ("  7  jpy ", Money(7, "JPY")),
]


def test_parse():
    for text, expected in PARSE_CASES:
        result = Money.parse(text, default_currency="GBP")
        assert result == expected
        assert result.currency == expected.currency
    assert Money.parse("5") == Money(5, "USD")


def test_parse_rejects_wrong_number_of_parts():
    for text in ["", "   ", "1 USD extra"]:
        with pytest.raises(ValueError, match="cannot parse"):
            Money.parse(text)


def test_arithmetic():
    a, b = Money("10.25"), Money("0.75")
    assert a + b == Money(11)
    assert a - b == Money("9.50")
    assert b - a == Money("-9.50")
    assert -a == Money("-10.25")
    assert a * 2 == Money("20.50")
    assert 3 * b == Money("2.25")
    assert sum([a, b]) == Money(11)


def test_arithmetic_with_other_types_is_unsupported():
    with pytest.raises(TypeError):
        Money(1) + 1
    with pytest.raises(TypeError):
        Money(1) - 1
    with pytest.raises(TypeError):
        Money(1) * 1.5
    with pytest.raises(TypeError):
        Money(1) * Money(2)
    with pytest.raises(TypeError):
        1 + Money(1)
    assert (Money(1) == "1 USD") is False


def test_mixing_currencies_raises():
    with pytest.raises(CurrencyMismatch) as info:
        Money(1, "USD") + Money(1, "EUR")
    assert isinstance(info.value, TallyError)
    assert isinstance(info.value, ValueError)
    assert (info.value.left, info.value.right) == ("USD", "EUR")
    assert str(info.value) == "cannot combine USD with EUR"
    with pytest.raises(CurrencyMismatch):
        Money(1, "USD") - Money(1, "EUR")
    with pytest.raises(CurrencyMismatch):
        Money(1, "USD") < Money(1, "EUR")


def test_equality_and_hash():
    assert Money("1.0") == Money("1.00")
    assert hash(Money("1.0")) == hash(Money("1.00"))
    assert Money(1, "USD") != Money(1, "EUR")
    assert Money(1) != Money(2)
    assert len({Money(1), Money("1.00"), Money(2)}) == 2


def test_ordering():
    small, big = Money(1), Money(2)
    assert small < big and not big < small and not small < Money(1)
    assert small <= Money(1) and not big <= small
    assert big > small and not small > big
    assert big >= Money(2) and not small >= big
    assert sorted([big, small]) == [small, big]


def test_truthiness_and_sign():
    assert not Money(0)
    assert Money("0.01")
    assert Money(-1)
    assert Money(-1).is_negative()
    assert not Money(0).is_negative()
    assert not Money(1).is_negative()


ROUNDING_CASES = [
    ("2.345", "USD", False, "2.35"),
    ("2.345", "USD", True, "2.34"),
    ("2.355", "USD", True, "2.36"),
    ("-2.345", "USD", False, "-2.35"),
    ("1.5", "JPY", False, "2"),
    ("1.2345", "KWD", False, "1.235"),
    ("1.2345", "XYZ", False, "1.23"),
]


def test_rounded():
    for amount, currency, bankers, expected in ROUNDING_CASES:
        result = Money(amount, currency).rounded(bankers=bankers)
        assert str(result.amount) == expected, (amount, currency, bankers)
        assert result.currency == currency
    assert str(Money("2.345").rounded().amount) == "2.35"


def test_minor_units():
    assert minor_units("usd") == 2
    assert minor_units("JPY") == 0
    assert minor_units("BHD") == 3
    assert minor_units("GBP") == 2
    assert minor_units("KRW") == 0
    assert minor_units("ZZZ") == 2


ALLOCATION_CASES = [
    ("100", [1, 1, 1], ["33.34", "33.33", "33.33"]),
    ("0.05", [3, 7], ["0.02", "0.03"]),
    ("10", [1, 0, 1], ["5.00", "0.00", "5.00"]),
    ("0.03", [0, 1, 1], ["0.00", "0.02", "0.01"]),
    ("-100", [1, 1, 1], ["-33.33", "-33.33", "-33.34"]),
    ("7", [2], ["7.00"]),
]


def test_allocate():
    for amount, ratios, expected in ALLOCATION_CASES:
        parts = Money(amount).allocate(ratios)
        assert [str(p.amount) for p in parts] == expected, (amount, ratios)
        assert sum(parts) == Money(amount)


def test_allocate_respects_currency_precision():
    parts = Money(10, "JPY").allocate([1, 1, 1])
    assert [p.amount for p in parts] == [4, 3, 3]
    assert all(p.currency == "JPY" for p in parts)


def test_allocate_rejects_bad_ratios():
    for ratios, message in [([], "at least one"), ([1, -1], "negative"), ([0, 0], "all be zero")]:
        with pytest.raises(ValueError, match=message):
            Money(10).allocate(ratios)


FORMAT_CASES = [
    (Money("1234.5"), {}, "$1,234.50"),
    (Money("-1234.5"), {}, "-$1,234.50"),
    (Money("1234.5"), {"grouping": False}, "$1234.50"),
    (Money("1234.5", "EUR"), {"symbol": False}, "1,234.50 EUR"),
    (Money("12", "KWD"), {}, "12.000 KWD"),
    (Money("1234", "JPY"), {}, "¥1,234"),
    (Money("-0.004"), {}, "$0.00"),
    (Money("-5", "CHF"), {}, "-5.00 CHF"),
]


def test_format():
    for money, kwargs, expected in FORMAT_CASES:
        assert money.format(**kwargs) == expected


def test_repr_and_str():
    assert repr(Money("1.50", "EUR")) == "Money('1.50', 'EUR')"
    assert str(Money("1.50", "EUR")) == "1.50 EUR"


def test_total():
    assert total([]) == Money(0)
    assert total([], currency="EUR") == Money(0, "EUR")
    assert total([Money(1, "EUR"), Money("2.5", "EUR")], "EUR") == Money("3.5", "EUR")
    with pytest.raises(CurrencyMismatch):
        total([Money(1, "EUR")])

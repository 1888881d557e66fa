from datetime import date

import pytest

from tallyho.errors import ParseError, TallyError
from tallyho.money import Money
from tallyho.parser import (
    format_ledger,
    format_transaction,
    parse_ledger,
    parse_tags,
    split_comment,
    split_posting,
)

SAMPLE = """\
; household accounts
# imported from the bank export

2024-01-03 * Salary  ; source: employer, recurring
    assets:bank        2500.00
    income:salary

2024-01-05 ! Market
    expenses:food      23.40  ; weekly shop
    assets:cash
default eur
2024-01-07 Bakery
\texpenses:food\t4.20
    assets:cash     -4.20 EUR
2024-01-08 Dinner
    Expenses:Food      EUR 30
    assets:cash
"""


def test_split_comment():
    assert split_comment("abc ; note ") == ("abc", "note")
    assert split_comment("abc   ") == ("abc", None)
    assert split_comment("a ; b ; c") == ("a", "b ; c")
    assert split_comment("x;") == ("x", "")


def test_parse_tags():
    assert parse_tags("Trip: Weekend , shared,, kind:a:b") == {"trip": "Weekend", "shared": True, "kind": "a:b"}
    assert parse_tags(None) == {}
    assert parse_tags("") == {}


def test_split_posting():
    assert split_posting("  assets:bank    12.00 USD ") == ("assets:bank", "12.00 USD")
    assert split_posting("assets:bank\t 5") == ("assets:bank", "5")
    assert split_posting("assets:bank") == ("assets:bank", None)
    assert split_posting("assets:bank   ") == ("assets:bank", None)
    assert split_posting("my account 5") == ("my account 5", None)


def test_parse_sample():
    ledger = parse_ledger(SAMPLE)
    assert [t.description for t in ledger] == ["Salary", "Market", "Bakery", "Dinner"]
    salary, market, bakery, dinner = ledger.transactions
    assert salary.date == date(2024, 1, 3)
    assert salary.tags == {"source": "employer", "recurring": True, "status": "cleared"}
    assert market.tags == {"status": "pending"}
    assert bakery.tags == {}
    assert salary.postings[1].amount == Money(-2500)
    assert market.postings[0].note == "weekly shop"
    assert market.postings[1].note is None
    assert market.postings[1].amount == Money("-23.40")
    assert bakery.postings[0].amount == Money("4.20", "EUR")
    assert dinner.postings[0].account == "expenses:food"
    assert dinner.postings[1].amount == Money(-30, "EUR")
    assert ledger.balance("assets", "EUR") == Money("-34.20", "EUR")
    assert ledger.balance("assets") == Money("2476.60")


def test_default_currency_argument():
    ledger = parse_ledger("2024-01-01 x\n  a  5\n  b\n", default_currency="GBP")
    assert ledger.transactions[0].postings[1].amount == Money(-5, "GBP")


def test_parse_errors_carry_line_numbers():
    cases = [
        ("  a  1\n", 1, "outside of a transaction"),
        ("2024-13-01 Bad date\n  a  1\n  b\n", 1, "invalid date"),
        ("\n2024-01-01 *\n", 2, "no description"),
        ("2024-01-01 ok\n  a  1 2 3\n  b\n", 2, "cannot parse"),
        ("2024-01-01 ok\n  a  1\n  b::c\n", 3, "invalid account"),
        ("2024-01-01 ok\n  a  1\n  b  1\n\n2024-01-02 next\n", 1, "off by"),
        ("2024-01-01 ok\n  a  1\n  b  -1\n2024-01-02 more\n  a  1\n  b  2\n", 4, "off by"),
    ]
    for text, line, message in cases:
        with pytest.raises(ParseError) as info:
            parse_ledger(text)
        assert info.value.line == line, text
        assert message in info.value.reason
        assert str(info.value).startswith(f"line {line}: ")
        assert isinstance(info.value, TallyError)


def test_parse_error_without_line():
    error = ParseError("bad input")
    assert error.line is None
    assert error.reason == "bad input"
    assert str(error) == "bad input"


def test_non_strict_skips_unbalanced():
    text = "2024-01-01 bad\n  a  1\n  b  1\n\n2024-01-02 good\n  a  1\n  b\n"
    ledger = parse_ledger(text, strict=False)
    assert [t.description for t in ledger] == ["good"]
    with pytest.raises(ParseError):
        parse_ledger("2024-01-01 bad\n  a  1 2\n  b\n", strict=False)


def test_blank_lines_end_transactions_but_comments_do_not():
    ledger = parse_ledger("2024-01-01 *Lunch\n  a  1\n  ; paid in cash\n  b\n")
    assert ledger.transactions[0].description == "Lunch"
    assert [p.account for p in ledger.transactions[0].postings] == ["a", "b"]
    with pytest.raises(ParseError, match="line 5: posting outside"):
        parse_ledger("2024-01-01 Lunch\n  a  1\n  b\n\n  c  2\n")


def test_empty_and_comment_only_input():
    assert len(parse_ledger("")) == 0
    assert len(parse_ledger("; nothing\n\n# here\n")) == 0


def test_format_transaction():
    ledger = parse_ledger(SAMPLE)
    assert format_transaction(ledger.transactions[1], width=30) == (
        "2024-01-05 Market  ; status: pending\n"
        "    expenses:food    23.40 USD  ; weekly shop\n"
        "    assets:cash     -23.40 USD"
    )
    assert format_transaction(ledger.transactions[0], width=10).splitlines() == [
        "2024-01-03 Salary  ; source: employer, recurring, status: cleared",
        "    assets:bank  2500.00 USD",
        "    income:salary  -2500.00 USD",
    ]


def test_round_trip():
    ledger = parse_ledger(SAMPLE)
    text = format_ledger(ledger)
    assert text.startswith("2024-01-03 Salary") and text.endswith("EUR\n")
    again = parse_ledger(text)
    assert format_ledger(again) == text
    assert [t.tags for t in again] == [t.tags for t in ledger]
    assert again.balances("EUR") == ledger.balances("EUR")
    assert text.count("\n\n") == 3
    assert text.splitlines()[1] == "    assets:bank              2500.00 USD"
    assert format_transaction(again.transactions[0]).splitlines()[1] == "    assets:bank              2500.00 USD"
    pending = again.transactions[0]
    pending.postings[1].amount = None
    assert format_transaction(pending).splitlines()[-1] == "    income:salary"

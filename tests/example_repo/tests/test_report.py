from datetime import date

import pytest

from tallyho.ledger import Ledger, Transaction
from tallyho.money import Money
from tallyho.periods import DateRange
from tallyho.report import balance_report, format_table, register_report, to_csv_line, truncate


def make_ledger():
    ledger = Ledger()
    entries = [
        ("2024-01-02", "Opening balance", "assets:bank", "1000", "equity:opening"),
        ("2024-01-04", "Supermarket", "expenses:food:groceries", "82.15", "assets:bank"),
        ("2024-01-09", "A very long description that keeps going", "expenses:food", "9.5", "assets:bank"),
        ("2024-02-01", "Rent", "expenses:rent", "1200", "assets:bank"),
    ]
    for day, description, debit, amount, credit in entries:
        t = Transaction(date.fromisoformat(day), description)
        t.add(debit, Money(amount)).add(credit)
        ledger.add(t)
    return ledger


def test_truncate():
    assert truncate("hello", 10) == "hello"
    assert truncate("hello", 5) == "hello"
    assert truncate("hello", 4) == "hel…"
    assert truncate("hello", 1) == "h"
    assert truncate("hello", 0) == ""
    assert truncate("hello world", 8, ellipsis="...") == "hello..."
    assert truncate("hello", 3, ellipsis="...") == "hel"


def test_format_table_with_headers_and_alignment():
    text = format_table(
        [["apple", 3], ["kiwi", 12], ["fig"]],
        headers=["fruit", "qty"],
        align=["left", "right"],
    )
    assert text.splitlines() == [
        "fruit  qty",
        "-----  ---",
        "apple    3",
        "kiwi    12",
        "fig",
    ]


def test_format_table_options():
    assert format_table([]) == ""
    assert format_table([], headers=["a", "b"]) == "a  b\n-  -"
    assert format_table([["x", "yy"], ["zzz", "w"]], sep=" | ") == "x   | yy\nzzz | w"
    assert format_table([["ab", "c"]], align=["center"], headers=["name", "v"]) == "name  v\n----  -\n ab   c"
    assert format_table([["abcdef", "x"]], max_width=4) == "abc…  x"
    with pytest.raises(ValueError, match="unknown alignment"):
        format_table([["a"]], align=["middle"])


def test_balance_report_tree():
    assert balance_report(make_ledger()).splitlines() == [
        "account           balance",
        "-------------  ----------",
        "assets           -$291.65",
        "  bank           -$291.65",
        "equity         -$1,000.00",
        "  opening      -$1,000.00",
        "expenses        $1,291.65",
        "  food             $91.65",
        "    groceries      $82.15",
        "  rent          $1,200.00",
        "total               $0.00",
    ]


def test_balance_report_depth_period_and_indent():
    assert balance_report(make_ledger(), depth=1).splitlines()[2:] == [
        "assets      -$291.65",
        "equity    -$1,000.00",
        "expenses   $1,291.65",
        "total          $0.00",
    ]
    assert balance_report(make_ledger(), period=DateRange.month(2024, 2), indent=1).splitlines()[2:] == [
        "assets    -$1,200.00",
        " bank     -$1,200.00",
        "expenses   $1,200.00",
        " rent      $1,200.00",
        "total          $0.00",
    ]
    assert balance_report(Ledger(), currency="CHF") == "account   balance\n-------  --------\ntotal    0.00 CHF"


def test_balance_report_orders_by_account_segments():
    ledger = Ledger()
    t = Transaction(date(2024, 1, 1), "x")
    t.add("a-c", Money(1)).add("a:b", Money(2)).add("a", Money(-3))
    ledger.add(t)
    names = [line.split()[0] for line in balance_report(ledger).splitlines()[2:]]
    assert names == ["a", "b", "a-c", "total"]


def test_register_report():
    lines = register_report(make_ledger(), "assets").splitlines()
    assert lines == [
        "date        description                         amount    balance",
        "----------  ------------------------------  ----------  ---------",
        "2024-01-02  Opening balance                  $1,000.00  $1,000.00",
        "2024-01-04  Supermarket                        -$82.15    $917.85",
        "2024-01-09  A very long description that …      -$9.50    $908.35",
        "2024-02-01  Rent                            -$1,200.00   -$291.65",
    ]
    limited = register_report(make_ledger(), "assets", limit=2).splitlines()
    assert [line[:10] for line in limited[2:]] == ["2024-01-09", "2024-02-01"]
    assert len(register_report(make_ledger(), "assets", limit=0).splitlines()) == 2
    assert register_report(make_ledger(), "assets", limit=1).splitlines()[2][:16] == "2024-02-01  Rent"
    assert len(register_report(make_ledger(), "assets", limit=-1).splitlines()) == 2
    assert len(register_report(make_ledger(), "assets", limit=10).splitlines()) == 6


def test_to_csv_line():
    assert to_csv_line(["a", 1, None, "x,y"]) == 'a,1,,"x,y"'
    assert to_csv_line(['say "hi"', " pad", "tail ", "two\nlines"]) == '"say ""hi"""," pad","tail ","two\nlines"'
    assert to_csv_line(["a;b", "c,d"], delimiter=";") == '"a;b";c,d'
    assert to_csv_line([]) == ""

from datetime import date

import pytest

from tallyho.errors import UnbalancedTransaction
from tallyho.ledger import (
    Ledger,
    Posting,
    Transaction,
    account_matches,
    normalise_account,
    truncate_account,
)
from tallyho.money import Money
from tallyho.periods import DateRange


def txn(day, description, *postings, **tags):
    t = Transaction(date.fromisoformat(day), description, tags=tags)
    for account, amount in postings:
        t.add(account, None if amount is None else Money.parse(amount))
    return t


@pytest.fixture
def ledger():
    return Ledger(
        [
            txn("2024-01-20", "Rent", ("expenses:housing:rent", "900"), ("assets:bank", None)),
            txn("2024-01-03", "Salary", ("assets:bank", "2500"), ("income:salary", "-2500")),
            txn("2024-01-05", "Groceries", ("expenses:food", "45.10"), ("assets:cash", None)),
            txn("2024-02-01", "Trip", ("expenses:travel", "30 EUR"), ("assets:wallet", "-30 EUR")),
            txn("2024-02-03", "Coffee beans", ("expenses:food", "12.40"), ("assets:bank", None)),
        ]
    )


def test_normalise_account():
    assert normalise_account(" Assets : Bank ") == "assets:bank"
    assert normalise_account("Income") == "income"
    for bad in ["", "assets::bank", "assets:", ":x", "  "]:
        with pytest.raises(ValueError, match="invalid account"):
            normalise_account(bad)


def test_account_matching_and_truncation():
    assert account_matches("assets:bank", "assets")
    assert account_matches("assets:bank", "assets:bank")
    assert account_matches("assets", None)
    assert not account_matches("assetsx:bank", "assets")
    assert not account_matches("assets", "assets:bank")
    assert truncate_account("a:b:c", 2) == "a:b"
    assert truncate_account("a:b:c", 1) == "a"
    assert truncate_account("a:b:c", 5) == "a:b:c"
    assert truncate_account("a:b:c", None) == "a:b:c"
    assert truncate_account("a:b:c", 0) == "a:b:c"


def test_posting_and_transaction_construction():
    p = Posting("Assets:Bank", Money(3), note="atm")
    assert (p.account, p.amount, p.note) == ("assets:bank", Money(3), "atm")
    t = Transaction(date(2024, 1, 1), "  Lunch ", [p])
    assert t.description == "Lunch"
    assert t.postings == [p]
    assert t.tags == {}
    assert repr(t) == "Transaction(2024-01-01, 'Lunch')"
    assert t.add("expenses:food", Money(-3)) is t
    assert len(t.postings) == 2


def test_balance_infers_missing_amount():
    t = txn("2024-01-01", "Lunch", ("expenses:food", "12.5"), ("expenses:tips", "2"), ("assets:cash", None))
    assert t.balance() is t
    assert t.postings[-1].amount == Money("-14.5")
    assert t.totals() == {"USD": Money(0)}
    first = txn("2024-01-01", "Refund", ("assets:cash", None), ("income:refunds", "-5"))
    assert first.balance().postings[0].amount == Money(5)
    complete = txn("2024-01-01", "Full", ("a", "1"), ("b", "-1"))
    assert complete.balance() is complete


def test_balance_rejects_problems():
    off = txn("2024-01-01", "Off", ("a", "10"), ("b", "-9.99"))
    with pytest.raises(UnbalancedTransaction) as info:
        off.balance()
    assert info.value.residual == Money("0.01")
    assert info.value.description == "Off"
    assert "off by 0.01 USD" in str(info.value)
    with pytest.raises(ValueError, match="only one posting"):
        txn("2024-01-01", "Two", ("a", "1"), ("b", None), ("c", None)).balance()
    with pytest.raises(ValueError, match="at least two"):
        txn("2024-01-01", "One", ("a", None)).balance()
    with pytest.raises(ValueError, match="across currencies"):
        txn("2024-01-01", "Mixed", ("a", "1 EUR"), ("b", "1 USD"), ("c", None)).balance()


def test_sub_cent_residual_is_tolerated_and_is_balanced():
    assert txn("2024-01-01", "Fx", ("a", "10.001"), ("b", "-10")).is_balanced()
    assert not txn("2024-01-01", "Off", ("a", "10.01"), ("b", "-10")).is_balanced()
    assert txn("2024-01-01", "Lonely", ("a", "1")).is_balanced() is False
    multi = txn("2024-01-01", "Fx", ("a", "1 EUR"), ("b", "-1 EUR"), ("c", "2"), ("d", "-2"))
    assert multi.is_balanced()
    assert multi.totals() == {"EUR": Money(0, "EUR"), "USD": Money(0)}


def test_ledger_keeps_date_order(ledger):
    assert [t.description for t in ledger] == ["Salary", "Groceries", "Rent", "Trip", "Coffee beans"]
    assert len(ledger) == 5
    same_day = ledger.add(txn("2024-01-05", "Later same day", ("a", "1"), ("b", None)))
    assert ledger.transactions[2] is same_day
    assert ledger.date_span() == (date(2024, 1, 3), date(2024, 2, 3))
    assert Ledger().date_span() is None


def test_ledger_rejects_unbalanced(ledger):
    with pytest.raises(UnbalancedTransaction):
        ledger.add(txn("2024-03-01", "Bad", ("a", "1"), ("b", "1")))
    assert len(ledger) == 5


def test_accounts(ledger):
    assert ledger.accounts() == [
        "assets:bank",
        "assets:cash",
        "assets:wallet",
        "expenses:food",
        "expenses:housing:rent",
        "expenses:travel",
        "income:salary",
    ]


def test_balance(ledger):
    assert ledger.balance("assets:bank") == Money("1587.60")
    assert ledger.balance("assets") == Money("1542.50")
    assert ledger.balance("assets", currency="EUR") == Money(-30, "EUR")
    assert ledger.balance("expenses") == Money("957.50")
    assert ledger.balance("income") == Money(-2500)
    assert ledger.balance("nothing") == Money(0)
    assert ledger.balance("assets:bank", period=DateRange.month(2024, 2)) == Money("-12.40")


def test_balances(ledger):
    assert ledger.balances() == {
        "assets:bank": Money("1587.60"),
        "assets:cash": Money("-45.10"),
        "expenses:food": Money("57.50"),
        "expenses:housing:rent": Money(900),
        "income:salary": Money(-2500),
    }
    assert ledger.balances(depth=1) == {
        "assets": Money("1542.50"),
        "expenses": Money("957.50"),
        "income": Money(-2500),
    }
    assert ledger.balances("EUR") == {
        "assets:wallet": Money(-30, "EUR"),
        "expenses:travel": Money(30, "EUR"),
    }
    assert ledger.balances(period=DateRange.month(2024, 2), depth=1) == {
        "assets": Money("-12.40"),
        "expenses": Money("12.40"),
    }


def test_running_balance_and_search(ledger):
    rows = ledger.running_balance("assets:bank")
    assert [(r[0].isoformat(), r[1], r[2], r[3]) for r in rows] == [
        ("2024-01-03", "Salary", Money(2500), Money(2500)),
        ("2024-01-20", "Rent", Money(-900), Money(1600)),
        ("2024-02-03", "Coffee beans", Money("-12.40"), Money("1587.60")),
    ]
    assert ledger.running_balance("assets:wallet") == []
    assert len(ledger.running_balance("assets:wallet", "EUR")) == 1
    assert [r[3] for r in ledger.running_balance("assets")] == [
        Money(2500), Money("2454.90"), Money("1554.90"), Money("1542.50")
    ]
    assert [t.description for t in ledger.search("CO")] == ["Coffee beans"]
    assert ledger.search("zzz") == []
    assert [p.account for _, p in ledger.postings("expenses:food")] == ["expenses:food"] * 2

"""Transactions, postings and an in-memory ledger."""

import bisect

from .errors import UnbalancedTransaction
from .money import DEFAULT_CURRENCY, Money

ACCOUNT_SEPARATOR = ":"


def normalise_account(name):
    """Canonicalise an account name such as ``" Assets : Cash "``."""
    parts = [part.strip().lower() for part in name.split(ACCOUNT_SEPARATOR)]
    if not parts or any(not part for part in parts):
        raise ValueError(f"invalid account name: {name!r}")
    return ACCOUNT_SEPARATOR.join(parts)


def account_matches(account, prefix):
    """True if *account* is *prefix* itself or one of its sub-accounts."""
    if prefix is None:
        return True
    return account == prefix or account.startswith(prefix + ACCOUNT_SEPARATOR)


def truncate_account(account, depth):
    if depth is None or depth < 1:
        return account
    return ACCOUNT_SEPARATOR.join(account.split(ACCOUNT_SEPARATOR)[:depth])


class Posting:
    """One leg of a transaction: an amount moved into or out of an account."""

    __slots__ = ("account", "amount", "note")

    def __init__(self, account, amount=None, note=None):
        self.account = normalise_account(account)
        self.amount = amount
        self.note = note


class Transaction:
    """A dated, described group of postings that must sum to zero."""

    def __init__(self, day, description, postings=None, tags=None):
        self.date = day
        self.description = description.strip()
        self.postings = list(postings) if postings is not None else []
        self.tags = dict(tags) if tags else {}

    def add(self, account, amount=None, note=None):
        self.postings.append(Posting(account, amount, note))
        return self

    def totals(self):
        """Sum of the posted amounts, per currency."""
        sums = {}
        for posting in self.postings:
            if posting.amount is None:
                continue
            code = posting.amount.currency
            sums[code] = sums.get(code, Money.zero(code)) + posting.amount
        return sums

    def balance(self):
        """Fill in an elided amount and check that every currency nets to zero."""
        missing = [p for p in self.postings if p.amount is None]
        if len(missing) > 1:
            raise ValueError(f"{self.description!r}: only one posting may omit its amount")
        if len(self.postings) < 2:
            raise ValueError(f"{self.description!r}: needs at least two postings")
        sums = self.totals()
        if missing:
            if len(sums) != 1:
                raise ValueError(f"{self.description!r}: cannot infer amount across currencies")
            (residual,) = sums.values()
            missing[0].amount = -residual
            return self
        for residual in sums.values():
            if residual.rounded():
                raise UnbalancedTransaction(self.description, residual)
        return self

    def is_balanced(self):
        try:
            self.balance()
        except (UnbalancedTransaction, ValueError):
            return False
        return True

    def __repr__(self):
        return f"Transaction({self.date.isoformat()}, {self.description!r})"


class Ledger:
    """An ordered collection of balanced transactions."""

    def __init__(self, transactions=()):
        self.transactions = []
        for txn in transactions:
            self.add(txn)

    def __len__(self):
        return len(self.transactions)

    def __iter__(self):
        return iter(self.transactions)

    def add(self, txn):
        """Insert *txn* in date order, after any existing entries on that day."""
        txn.balance()
        keys = [t.date for t in self.transactions]
        self.transactions.insert(bisect.bisect_right(keys, txn.date), txn)
        return txn

    def accounts(self):
        return sorted({p.account for t in self.transactions for p in t.postings})

    def postings(self, account=None, period=None):
        for txn in self.transactions:
            if period is not None and txn.date not in period:
                continue
            for posting in txn.postings:
                if account_matches(posting.account, account):
                    yield txn, posting

    def balance(self, account, currency=DEFAULT_CURRENCY, period=None):
        result = Money.zero(currency)
        for _, posting in self.postings(account, period):
            if posting.amount.currency == currency:
                result += posting.amount
        return result

    def balances(self, currency=DEFAULT_CURRENCY, depth=None, period=None):
        """Balances per account, optionally rolled up to *depth* segments."""
        result = {}
        for _, posting in self.postings(period=period):
            if posting.amount.currency != currency:
                continue
            key = truncate_account(posting.account, depth)
            result[key] = result.get(key, Money.zero(currency)) + posting.amount
        return {k: v for k, v in sorted(result.items()) if v}

    def running_balance(self, account, currency=DEFAULT_CURRENCY):
        rows = []
        running = Money.zero(currency)
        for txn, posting in self.postings(account):
            if posting.amount.currency != currency:
                continue
            running = running + posting.amount
            rows.append((txn.date, txn.description, posting.amount, running))
        return rows

    def search(self, text):
        """Transactions whose description contains *text*, ignoring case."""
        needle = text.lower()
        return [t for t in self.transactions if needle in t.description.lower()]

    def date_span(self):
        """``(first, last)`` transaction dates, or ``None`` for an empty ledger."""
        if not self.transactions:
            return None
        return self.transactions[0].date, self.transactions[-1].date

"""tallyho: a small plain-text ledger toolkit."""

from .errors import (
    ConfigError,
    CurrencyMismatch,
    ParseError,
    RetryError,
    TallyError,
    UnbalancedTransaction,
)
from .money import Money, total
from .periods import DateRange, add_months, merge_ranges, parse_date
from .ledger import Ledger, Posting, Transaction
from .parser import parse_ledger

__version__ = "0.3.1"

"""Exact decimal money arithmetic with per-currency rounding."""

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation

from .errors import CurrencyMismatch

DEFAULT_CURRENCY = "USD"

_MINOR_UNITS = {"USD": 2, "EUR": 2, "GBP": 2, "CHF": 2, "JPY": 0, "KRW": 0, "KWD": 3, "BHD": 3}

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def minor_units(currency):
    """Return the number of decimal places conventionally used by *currency*."""
    return _MINOR_UNITS.get(currency.upper(), 2)


def _normalise_currency(currency):
    code = currency.strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise ValueError(f"invalid currency code: {currency!r}")
    return code


class Money:
    """An immutable amount of a single currency."""

    __slots__ = ("amount", "currency")

    def __init__(self, amount, currency=DEFAULT_CURRENCY):
        if isinstance(amount, float):
            raise TypeError("construct Money from str, int or Decimal, not float")
        if isinstance(amount, str):
            amount = amount.strip().replace(",", "").replace("_", "")
        try:
            value = Decimal(amount)
        except (InvalidOperation, TypeError):
            raise ValueError(f"invalid amount: {amount!r}") from None
        if not value.is_finite():
            raise ValueError(f"amount must be finite: {amount!r}")
        object.__setattr__(self, "amount", value)
        object.__setattr__(self, "currency", _normalise_currency(currency))

    def __setattr__(self, name, value):
        raise AttributeError("Money is immutable")

    @classmethod
    def parse(cls, text, default_currency=DEFAULT_CURRENCY):
        """Parse strings such as ``"12.50 EUR"``, ``"EUR 12.50"`` or ``"-3"``."""
        parts = text.split()
        if not parts or len(parts) > 2:
            raise ValueError(f"cannot parse money from {text!r}")
        if len(parts) == 1:
            return cls(parts[0], default_currency)
        first, second = parts
        if first.isalpha():
            return cls(second, first)
        return cls(first, second)

    @classmethod
    def zero(cls, currency=DEFAULT_CURRENCY):
        return cls(0, currency)

    def _coerce(self, other):
        if not isinstance(other, Money):
            return NotImplemented
        if other.currency != self.currency:
            raise CurrencyMismatch(self.currency, other.currency)
        return other

    def __add__(self, other):
        other = self._coerce(other)
        if other is NotImplemented:
            return other
        return Money(self.amount + other.amount, self.currency)

    def __radd__(self, other):
        if other == 0:
            return self
        return self.__add__(other)

    def __sub__(self, other):
        other = self._coerce(other)
        if other is NotImplemented:
            return other
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self):
        return Money(-self.amount, self.currency)

    def __mul__(self, factor):
        if isinstance(factor, (Money, float)):
            return NotImplemented
        return Money(self.amount * Decimal(factor), self.currency)

    __rmul__ = __mul__

    def __eq__(self, other):
        if not isinstance(other, Money):
            return NotImplemented
        return self.currency == other.currency and self.amount == other.amount

    def __hash__(self):
        return hash((self.amount, self.currency))

    def __lt__(self, other):
        return self.amount < self._coerce(other).amount

    def __le__(self, other):
        return self.amount <= self._coerce(other).amount

    def __bool__(self):
        return self.amount != 0

    def is_negative(self):
        return self.amount < 0

    def rounded(self, bankers=False):
        """Round to the currency's minor unit (half-up unless *bankers*)."""
        places = minor_units(self.currency)
        quantum = Decimal(1).scaleb(-places)
        mode = ROUND_HALF_EVEN if bankers else ROUND_HALF_UP
        return Money(self.amount.quantize(quantum, rounding=mode), self.currency)

    def allocate(self, ratios):
        """Split the amount by *ratios* without losing or inventing cents.

        Leftover minor units are handed out one at a time, starting with the
        first share, so the parts always add back up to the rounded total.
        """
        if not ratios:
            raise ValueError("at least one ratio is required")
        if any(r < 0 for r in ratios):
            raise ValueError("ratios must not be negative")
        weight = sum(ratios)
        if weight == 0:
            raise ValueError("ratios must not all be zero")
        places = minor_units(self.currency)
        scale = 10**places
        units = int(self.rounded().amount * scale)
        shares = [units * r // weight for r in ratios]
        remainder = units - sum(shares)  # floor division never overshoots
        index = 0
        while remainder > 0:
            if ratios[index % len(ratios)] > 0:
                shares[index % len(ratios)] += 1
                remainder -= 1
            index += 1
        return [Money(Decimal(s).scaleb(-places), self.currency) for s in shares]

    def format(self, symbol=True, grouping=True):
        """Render for humans, e.g. ``-$1,234.50`` or ``12.000 KWD``."""
        value = self.rounded().amount
        places = minor_units(self.currency)
        sign = "-" if value < 0 else ""
        pattern = "{:,.%df}" % places if grouping else "{:.%df}" % places
        digits = pattern.format(abs(value))
        prefix = _SYMBOLS.get(self.currency) if symbol else None
        if prefix is None:
            return f"{sign}{digits} {self.currency}"
        return f"{sign}{prefix}{digits}"

    def __repr__(self):
        return f"Money({str(self.amount)!r}, {self.currency!r})"

    def __str__(self):
        return f"{self.amount} {self.currency}"


def total(amounts, currency=DEFAULT_CURRENCY):
    """Sum an iterable of :class:`Money`, returning zero for an empty input."""
    result = Money.zero(currency)
    for amount in amounts:
        result = result + amount
    return result

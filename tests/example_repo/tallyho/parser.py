"""Reader and writer for a small plain-text ledger format.

A header line starts with a date, optionally followed by a ``*`` (cleared) or
``!`` (pending) flag. Postings are indented and separate the account from the
amount by a tab or at least two spaces. Anything after ``;`` is a comment; on a
header it is read as comma separated ``key: value`` tags.
"""

from .errors import ParseError, UnbalancedTransaction
from .ledger import Ledger, Transaction
from .money import DEFAULT_CURRENCY, Money
from .periods import parse_date

COMMENT_CHARS = (";", "#")
FLAGS = {"*": "cleared", "!": "pending"}


def split_comment(line):
    """Split *line* into its content and the text after ``;`` (or ``None``)."""
    content, sep, comment = line.partition(";")
    if not sep:
        return line.rstrip(), None
    return content.rstrip(), comment.strip()


def parse_tags(comment):
    """Turn ``"trip: weekend, shared"`` into ``{"trip": "weekend", "shared": True}``."""
    tags = {}
    if comment is None:
        return tags
    for item in comment.split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition(":")
        key = key.strip().lower()
        tags[key] = value.strip() if sep else True
    return tags


def split_posting(text):
    """Separate an account name from its (optional) amount text."""
    text = text.strip()
    if "\t" in text:
        account, _, rest = text.partition("\t")
    else:
        gap = text.find("  ")
        if gap == -1:
            return text, None
        account, rest = text[:gap], text[gap:]
    rest = rest.strip()
    return account.rstrip(), rest or None


def _parse_header(content, lineno):
    head, _, rest = content.partition(" ")
    try:
        day = parse_date(head)
    except ValueError as exc:
        raise ParseError(str(exc), lineno) from None
    rest = rest.strip()
    status = None
    if rest[:1] in FLAGS:
        status = FLAGS[rest[0]]
        rest = rest[1:].lstrip()
    if not rest:
        raise ParseError("transaction has no description", lineno)
    return day, status, rest


def parse_ledger(text, default_currency=DEFAULT_CURRENCY, strict=True):
    """Parse ledger *text* into a :class:`~tallyho.ledger.Ledger`.

    With ``strict=False`` unbalanced transactions are skipped instead of
    raising :class:`ParseError`.
    """
    ledger = Ledger()
    current = None
    started = 0
    currency = default_currency

    def flush():
        if current is None:
            return
        try:
            ledger.add(current)
        except (UnbalancedTransaction, ValueError) as exc:
            if strict:
                raise ParseError(str(exc), started) from exc

    for lineno, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith(COMMENT_CHARS):
            if not raw.strip():
                flush()
                current = None
            continue
        content, comment = split_comment(raw)
        if raw[0] in " \t":
            if current is None:
                raise ParseError("posting outside of a transaction", lineno)
            account, amount_text = split_posting(content)
            try:
                amount = None
                if amount_text is not None:
                    amount = Money.parse(amount_text, currency)
                current.add(account, amount, note=comment)
            except ValueError as exc:
                raise ParseError(str(exc), lineno) from None
            continue
        flush()
        current = None
        if content.lower().startswith("default "):
            currency = content.split(None, 1)[1].strip().upper()
            continue
        day, status, description = _parse_header(content, lineno)
        tags = parse_tags(comment)
        if status is not None:
            tags.setdefault("status", status)
        current = Transaction(day, description, tags=tags)
        started = lineno
    flush()
    return ledger


def format_transaction(txn, width=40):
    """Render *txn* back into the text format understood by :func:`parse_ledger`."""
    header = f"{txn.date.isoformat()} {txn.description}"
    tags = []
    for key, value in txn.tags.items():
        tags.append(key if value is True else f"{key}: {value}")
    if tags:
        header += "  ; " + ", ".join(tags)
    lines = [header]
    for posting in txn.postings:
        line = "    " + posting.account
        if posting.amount is not None:
            amount = str(posting.amount)
            pad = max(2, width - len(line) - len(amount))
            line += " " * pad + amount
        if posting.note:
            line += "  ; " + posting.note
        lines.append(line)
    return "\n".join(lines)


def format_ledger(ledger, width=40):
    return "\n\n".join(format_transaction(t, width) for t in ledger) + "\n"

"""Plain-text tables and ledger reports."""

from .ledger import ACCOUNT_SEPARATOR
from .money import DEFAULT_CURRENCY, Money

ALIGNMENTS = {"left": str.ljust, "right": str.rjust, "center": str.center}


def truncate(text, width, ellipsis="…"):
    """Shorten *text* to at most *width* characters, marking the cut."""
    if width < 1:
        return ""
    if len(text) <= width:
        return text
    if width <= len(ellipsis):
        return text[:width]
    return text[: width - len(ellipsis)] + ellipsis


def format_table(rows, headers=None, align=None, max_width=None, sep="  "):
    """Lay out *rows* (sequences of cells) as aligned, fixed-width text."""
    table = [[str(cell) for cell in row] for row in rows]
    if headers is not None:
        table.insert(0, [str(h) for h in headers])
    if not table:
        return ""
    columns = max(len(row) for row in table)
    for row in table:
        row.extend([""] * (columns - len(row)))
    if max_width is not None:
        table = [[truncate(cell, max_width) for cell in row] for row in table]
    widths = [max(len(row[i]) for row in table) for i in range(columns)]
    align = list(align or [])
    align.extend(["left"] * (columns - len(align)))
    for name in align:
        if name not in ALIGNMENTS:
            raise ValueError(f"unknown alignment: {name!r}")
    lines = []
    for index, row in enumerate(table):
        cells = [ALIGNMENTS[a](cell, w) for cell, w, a in zip(row, widths, align)]
        lines.append(sep.join(cells).rstrip())
        if index == 0 and headers is not None:
            lines.append(sep.join("-" * w for w in widths))
    return "\n".join(lines)


def balance_report(ledger, currency=DEFAULT_CURRENCY, depth=None, period=None, indent=2):
    """An indented account tree with subtotals and a grand total line."""
    balances = ledger.balances(currency, depth=depth, period=period)
    tree = {}
    for account, amount in balances.items():
        parts = account.split(ACCOUNT_SEPARATOR)
        for size in range(1, len(parts) + 1):
            key = ACCOUNT_SEPARATOR.join(parts[:size])
            tree[key] = tree.get(key, Money.zero(currency)) + amount
    rows = []
    for account in sorted(tree, key=lambda name: name.split(ACCOUNT_SEPARATOR)):
        level = account.count(ACCOUNT_SEPARATOR)
        name = account.rsplit(ACCOUNT_SEPARATOR, 1)[-1]
        rows.append([" " * (indent * level) + name, tree[account].format()])
    grand = sum(balances.values(), Money.zero(currency))
    rows.append(["total", grand.format()])
    return format_table(rows, headers=["account", "balance"], align=["left", "right"])


def register_report(ledger, account, currency=DEFAULT_CURRENCY, limit=None):
    """Dated movements of *account* with a running balance column."""
    rows = ledger.running_balance(account, currency)
    if limit is not None:
        rows = rows[-limit:] if limit > 0 else []
    table = [
        [day.isoformat(), description, amount.format(), running.format()]
        for day, description, amount, running in rows
    ]
    return format_table(
        table,
        headers=["date", "description", "amount", "balance"],
        align=["left", "left", "right", "right"],
        max_width=30,
    )


def to_csv_line(cells, delimiter=","):
    """Quote cells that need it, following the usual CSV conventions."""
    out = []
    for cell in cells:
        text = "" if cell is None else str(cell)
        if delimiter in text or '"' in text or "\n" in text or text != text.strip():
            text = '"' + text.replace('"', '""') + '"'
        out.append(text)
    return delimiter.join(out)

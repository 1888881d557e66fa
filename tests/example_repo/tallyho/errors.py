"""Exception hierarchy used throughout tallyho."""


class TallyError(Exception):
    """Base class for every error raised by tallyho."""


class ParseError(TallyError):
    """Raised when ledger or config text cannot be parsed."""

    def __init__(self, message, line=None):
        self.line = line
        self.reason = message
        if line is not None:
            message = f"line {line}: {message}"
        super().__init__(message)


class CurrencyMismatch(TallyError, ValueError):
    """Raised when combining amounts in different currencies."""

    def __init__(self, left, right):
        self.left = left
        self.right = right
        super().__init__(f"cannot combine {left} with {right}")


class UnbalancedTransaction(TallyError):
    """Raised when the postings of a transaction do not sum to zero."""

    def __init__(self, description, residual):
        self.description = description
        self.residual = residual
        super().__init__(f"transaction {description!r} is off by {residual}")


class ConfigError(TallyError):
    """Raised when a configuration value is missing or invalid."""

    def __init__(self, key, problem):
        self.key = key
        self.problem = problem
        super().__init__(f"{key}: {problem}")


class RetryError(TallyError):
    """Raised when an operation keeps failing after every allowed attempt."""

    def __init__(self, attempts, last_error):
        self.attempts = attempts
        self.last_error = last_error
        super().__init__(f"gave up after {attempts} attempts: {last_error!r}")

"""Retrying flaky operations with exponential backoff."""

import functools
import time

from .errors import RetryError


def backoff_delays(attempts, base=0.5, factor=2.0, maximum=30.0):
    """Delays to wait between *attempts* tries (one fewer than attempts)."""
    delays = []
    delay = base
    for _ in range(attempts - 1):
        delays.append(min(delay, maximum))
        delay *= factor
    return delays


class Retry:
    """Policy object: how often to try, how long to wait, and what to retry on."""

    def __init__(self, attempts=3, base=0.5, factor=2.0, maximum=30.0,
                 retry_on=(Exception,), give_up_on=(), sleep=time.sleep):
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        if base < 0 or factor < 1:
            raise ValueError("base must be >= 0 and factor >= 1")
        self.attempts = attempts
        self.base = base
        self.factor = factor
        self.maximum = maximum
        self.retry_on = tuple(retry_on)
        self.give_up_on = tuple(give_up_on)
        self.sleep = sleep
        self.total_attempts = 0

    def should_retry(self, error):
        if self.give_up_on and isinstance(error, self.give_up_on):
            return False
        return isinstance(error, self.retry_on)

    def call(self, func, *args, on_retry=None, **kwargs):
        """Call *func* until it succeeds or the policy is exhausted.

        ``on_retry(attempt, error, delay)`` is invoked before each wait.
        """
        delays = backoff_delays(self.attempts, self.base, self.factor, self.maximum)
        last_error = None
        for attempt in range(1, self.attempts + 1):
            try:
                return func(*args, **kwargs)
            except Exception as error:
                if not self.should_retry(error):
                    raise
                last_error = error
            finally:
                self.total_attempts += 1
            if attempt == self.attempts:
                break
            delay = delays[attempt - 1]
            if on_retry is not None:
                on_retry(attempt, last_error, delay)
            if delay > 0:
                self.sleep(delay)
        raise RetryError(self.attempts, last_error) from last_error

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            return self.call(func, *args, **kwargs)

        return wrapper


def retry(func=None, **options):
    """Decorator form of :class:`Retry`, usable with or without arguments."""
    policy = Retry(**options)
    if func is None:
        return policy
    return policy(func)

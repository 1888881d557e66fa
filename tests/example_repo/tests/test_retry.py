import pytest

from tallyho.errors import RetryError, TallyError
from tallyho.retry import Retry, backoff_delays, retry


class Flaky:
    """Callable that raises the queued errors in order, then returns a value."""

    def __init__(self, *errors, result="ok"):
        self.errors = list(errors)
        self.result = result
        self.calls = []

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        if self.errors:
            raise self.errors.pop(0)
        return self.result


class FakeSleep:
    def __init__(self):
        self.waits = []

    def __call__(self, seconds):
        self.waits.append(seconds)


def test_backoff_delays():
    assert backoff_delays(1) == []
    assert backoff_delays(4) == [0.5, 1.0, 2.0]
    assert backoff_delays(5, base=1, factor=3, maximum=10) == [1, 3, 9, 10]
    assert backoff_delays(3, base=2, factor=1) == [2, 2]
    assert backoff_delays(0) == []


def test_policy_validation():
    for kwargs in [{"attempts": 0}, {"base": -1}, {"factor": 0.5}]:
        with pytest.raises(ValueError):
            Retry(**kwargs)
    policy = Retry(attempts=1, base=0, factor=1)
    assert (policy.attempts, policy.base, policy.factor, policy.maximum) == (1, 0, 1, 30.0)
    assert policy.retry_on == (Exception,)
    assert policy.give_up_on == ()
    default = Retry()
    assert (default.attempts, default.base, default.factor, default.maximum) == (3, 0.5, 2.0, 30.0)


def test_succeeds_after_failures_and_sleeps_between():
    sleep = FakeSleep()
    func = Flaky(OSError("a"), OSError("b"), result=42)
    policy = Retry(attempts=4, base=1, factor=2, sleep=sleep)
    assert policy.call(func, 1, key="v") == 42
    assert func.calls == [((1,), {"key": "v"})] * 3
    assert sleep.waits == [1, 2]
    assert policy.total_attempts == 3


def test_gives_up_with_retry_error():
    sleep = FakeSleep()
    seen = []
    last = ValueError("third")
    func = Flaky(ValueError("first"), ValueError("second"), last)
    policy = Retry(attempts=3, base=0.25, sleep=sleep)
    with pytest.raises(RetryError) as info:
        policy.call(func, on_retry=lambda attempt, error, delay: seen.append((attempt, str(error), delay)))
    assert info.value.attempts == 3
    assert info.value.last_error is last
    assert info.value.__cause__ is last
    assert isinstance(info.value, TallyError)
    assert str(info.value) == "gave up after 3 attempts: ValueError('third')"
    assert seen == [(1, "first", 0.25), (2, "second", 0.5)]
    assert sleep.waits == [0.25, 0.5]
    assert len(func.calls) == 3
    assert policy.total_attempts == 3


def test_single_attempt_never_sleeps():
    sleep = FakeSleep()
    with pytest.raises(RetryError) as info:
        Retry(attempts=1, sleep=sleep).call(Flaky(KeyError("k")))
    assert info.value.attempts == 1
    assert sleep.waits == []


def test_zero_delay_skips_sleep_but_still_notifies():
    sleep = FakeSleep()
    seen = []
    policy = Retry(attempts=3, base=0, sleep=sleep)
    assert policy.call(Flaky(OSError(), OSError()), on_retry=lambda *a: seen.append(a[0])) == "ok"
    assert sleep.waits == []
    assert seen == [1, 2]


def test_non_retryable_errors_propagate_immediately():
    sleep = FakeSleep()
    policy = Retry(attempts=5, retry_on=(OSError,), give_up_on=(PermissionError,), sleep=sleep)
    func = Flaky(KeyError("boom"))
    with pytest.raises(KeyError):
        policy.call(func)
    assert len(func.calls) == 1
    func = Flaky(OSError(), PermissionError("denied"))
    with pytest.raises(PermissionError):
        policy.call(func)
    assert len(func.calls) == 2
    assert sleep.waits == [0.5]
    assert policy.total_attempts == 3
    assert policy.should_retry(OSError()) is True
    assert policy.should_retry(PermissionError()) is False
    assert policy.should_retry(ValueError()) is False
    assert Retry(retry_on=(OSError,)).should_retry(PermissionError()) is True


def test_decorator_forms():
    sleep = FakeSleep()
    func = Flaky(OSError(), result="done")

    @retry(attempts=2, base=3, sleep=sleep)
    def fetch(x):
        """Fetch something."""
        return (func(), x)

    assert fetch(5) == ("done", 5)
    assert fetch.__name__ == "fetch"
    assert fetch.__doc__ == "Fetch something."
    assert sleep.waits == [3]

    plain = retry(Flaky(result=7))
    assert plain() == 7
    assert isinstance(retry(), Retry)

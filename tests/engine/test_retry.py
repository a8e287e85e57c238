"""The engine's one retry policy: which errors are retried, how long it waits."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orbit_gui.engine import (
    ConnectionFailed,
    IntegrityError,
    NotFound,
    OrbitError,
    PermissionDenied,
    SourceChanged,
    Throttled,
    Timeout,
)
from orbit_gui.engine.retry import NO_RETRY, RetryPolicy


def test_only_retriable_orbit_errors_are_retried_within_the_attempt_budget() -> None:
    policy = RetryPolicy(max_attempts=3)
    for error in (ConnectionFailed("x"), Timeout("x"), Throttled("x"), IntegrityError("x"),
                  OrbitError("x", retriable=True)):
        assert policy.should_retry(error, 1)
        assert policy.should_retry(error, 2)
        assert not policy.should_retry(error, 3)
    for error in (NotFound("x"), PermissionDenied("x"), SourceChanged("x"),
                  ConnectionFailed("x", retriable=False), ValueError("x"), OSError("x")):
        assert not policy.should_retry(error, 1)
    assert not NO_RETRY.should_retry(ConnectionFailed("x"), 1)


def test_delays_grow_exponentially_with_jitter_and_are_capped() -> None:
    policy = RetryPolicy(max_attempts=8, base_delay=1.0, max_delay=10.0, rng=random.Random(7))
    delays = list(policy.delays())
    assert len(delays) == 7
    ceilings = [1, 2, 4, 8, 10, 10, 10]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling
    assert len(set(delays)) == len(delays)  # jittered, not a fixed schedule


@given(st.integers(1, 10_000), st.floats(0, 100), st.floats(0, 1000), st.integers(0, 2**32))
def test_any_delay_stays_within_bounds(attempt: int, base: float, cap: float, seed: int) -> None:
    policy = RetryPolicy(base_delay=base, max_delay=cap, rng=random.Random(seed))
    assert 0 <= policy.delay(attempt) <= cap


def test_seeded_policies_repeat_their_schedule() -> None:
    first = list(RetryPolicy(rng=random.Random(1)).delays())
    second = list(RetryPolicy(rng=random.Random(1)).delays())
    assert first == second


@pytest.mark.parametrize("kwargs", [
    {"max_attempts": 0}, {"base_delay": -1.0}, {"max_delay": -1.0}, {"multiplier": 0.5}])
def test_nonsense_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


async def test_wait_sleeps_out_the_backoff() -> None:
    await RetryPolicy(base_delay=0.0, max_delay=0.0).wait(3)
    with pytest.raises(ValueError):
        RetryPolicy().delay(0)

"""Shared test configuration.

* ``rng`` / ``test_seed``: one seed per session (``EVENTBATCH_TEST_SEED``
  overrides), printed in the report header and by the fixture.
* An autouse guard that fails a test whose stderr shows "Exception ignored"
  (an exception swallowed inside C code / ``__dealloc__`` / a ``noexcept``
  function) or that triggered ``sys.unraisablehook``.
* Hypothesis profiles ``ci`` (default) and ``dev``, chosen by the
  ``HYPOTHESIS_PROFILE`` environment variable.  Under ``ci`` every
  ``@given`` test is seeded from the session seed, so a run is reproduced
  exactly by ``EVENTBATCH_TEST_SEED=<seed>``.
"""

from __future__ import annotations

import os
import pathlib
import random
import sys

import pytest

# The package under test is the installed one (pip install .), or src/ on
# PYTHONPATH for an in-place build: tests never add src/ themselves.

try:
    from hypothesis import HealthCheck, settings, Verbosity
except ImportError:  # hypothesis is a test dependency; keep other tests usable without it
    settings = None


def _session_seed() -> int:
    env = os.environ.get("EVENTBATCH_TEST_SEED")
    if env:
        return int(env, 0)
    return random.SystemRandom().randrange(1 << 32)


SEED: int = _session_seed()

if settings is not None:
    settings.register_profile(
        "ci",
        deadline=None,
        max_examples=200,
        derandomize=False,          # seeded from SEED instead, see pytest_collection_modifyitems
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.filter_too_much],
    )
    settings.register_profile(
        "dev",
        deadline=None,
        max_examples=50,
        print_blob=True,
        verbosity=Verbosity.normal,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
    if os.environ.get("HYPOTHESIS_PROFILE", "ci") == "ci":
        # Failing examples are still shrunk, but for a bounded time (Hypothesis
        # allows 300 s per failure), so that a run with known failures stays short.
        try:
            from hypothesis.internal.conjecture import engine as _engine
            _engine.MAX_SHRINKING_SECONDS = int(os.environ.get("EVENTBATCH_SHRINK_SECONDS", "4"))
        except Exception:  # pragma: no cover - internal name moved
            pass


def pytest_report_header(config):
    return [f"eventbatch test seed: {SEED} (set EVENTBATCH_TEST_SEED={SEED} to reproduce); "
            f"hypothesis profile: {os.environ.get('HYPOTHESIS_PROFILE', 'ci')}"]


def pytest_collection_modifyitems(config, items):
    """Seed every Hypothesis test from the session seed under the ci profile
    (the same as ``@hypothesis.seed(SEED)`` on each of them)."""
    if settings is None or os.environ.get("HYPOTHESIS_PROFILE", "ci") != "ci":
        return
    for item in items:
        fn = getattr(item, "obj", None)
        if fn is not None and getattr(fn, "is_hypothesis_test", False):
            try:
                # per test, so that tests do not all draw the same stream
                fn._hypothesis_internal_use_seed = f"{SEED}:{item.module.__name__}.{item.originalname}"
            except (AttributeError, TypeError):
                pass


@pytest.fixture(scope="session")
def test_seed() -> int:
    print(f"\n[eventbatch] test seed = {SEED} (EVENTBATCH_TEST_SEED={SEED} reproduces)")
    return SEED


@pytest.fixture(scope="session")
def session_rng(test_seed) -> random.Random:
    """One Random for the whole session (shared state: order-dependent)."""
    return random.Random(test_seed)


@pytest.fixture
def rng(test_seed, request) -> random.Random:
    """A Random seeded from the session seed and the test's id, so that a
    test's draws do not depend on which other tests ran before it."""
    seed = f"{test_seed}:{request.node.nodeid}"
    print(f"rng seed: session {test_seed}, test {request.node.nodeid}")
    return random.Random(seed)


@pytest.fixture(autouse=True)
def _no_ignored_exceptions(request):
    """Fail the test if anything reported an exception it swallowed.

    Output is read from capfd (or capsys when the test itself uses capsys;
    pytest refuses both) after the test: pytest has already reported the
    call phase's output by then, and under ``-s`` it passes it through.
    ``sys.unraisablehook`` is wrapped too, because pytest routes unraisable
    exceptions to warnings instead of stderr."""
    names = request.fixturenames
    cap = None
    if "capsys" in names or "capsysbinary" in names:
        cap = request.getfixturevalue("capsys") if "capsys" in names else None
    elif "capfdbinary" in names:
        cap = None
    else:
        cap = request.getfixturevalue("capfd")

    unraisable: list[str] = []
    old_hook = sys.unraisablehook

    def hook(u):
        try:
            unraisable.append(f"{u.exc_type.__name__}: {u.exc_value!r} in {u.object!r}")
        except Exception:  # pragma: no cover - never let the hook itself fail
            unraisable.append("<unprintable unraisable exception>")
        old_hook(u)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = old_hook
    err = ""
    if cap is not None:
        # Nothing is hidden by reading here: pytest has already put the call
        # phase's output in the report, and under -s it passes it through.
        _out, err = cap.readouterr()
    problems = []
    if "Exception ignored" in err:
        problems.append("stderr shows 'Exception ignored':\n" + err[-4000:])
    if unraisable:
        problems.append("sys.unraisablehook was called:\n  " + "\n  ".join(unraisable))
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)

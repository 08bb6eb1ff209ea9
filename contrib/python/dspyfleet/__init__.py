"""dspyfleet: report DSPy request statistics to the local dspyfleet agent.

    import dspyfleet
    dspyfleet.report(latency_ms=412.5, program="qa", model="openai/gpt-4o-mini",
                     input_tokens=812, output_tokens=64, cache_hit=False)

or, for DSPy programs:

    dspy.configure(callbacks=[dspyfleet.DSPyCallback(program="qa")])

Standard library only. Nothing here raises into the application or waits on the network.
"""

import logging
import threading

from .reporter import DEFAULT_URL, URL_ENV, Reporter

__all__ = [
    "DEFAULT_URL", "URL_ENV", "Reporter", "DSPyCallback", "report", "configure",
    "default_reporter", "flush", "stats",
]
__version__ = "0.1.0"

_default = None
_default_lock = threading.Lock()
_default_failed = False


def default_reporter():
    """The module-level reporter that report() uses, created on first use from the environment
    ($DSPYFLEET_INTAKE_URL). None when it cannot be created (a bad URL in the environment)."""
    global _default, _default_failed
    r = _default
    if r is not None or _default_failed:
        return r
    with _default_lock:
        if _default is None and not _default_failed:
            try:
                _default = Reporter()
            except Exception as e:
                _default_failed = True
                logging.getLogger("dspyfleet").warning(
                    "dspyfleet: reporting disabled: %s", e)
        return _default


def configure(**kwargs):
    """Replaces the module-level reporter with Reporter(**kwargs), closing the old one. Raises
    ValueError for bad settings: call it at start-up."""
    global _default, _default_failed
    new = Reporter(**kwargs)
    with _default_lock:
        old, _default, _default_failed = _default, new, False
    if old is not None:
        old.close(timeout=1.0)
    return new


def report(latency_ms, program=None, module=None, model=None, input_tokens=None,
           output_tokens=None, cache_hit=None, error=None, status=None, ts=None, ttft_ms=None,
           queue_length=None):
    """Queues one completed DSPy request for the agent and returns at once.

    latency_ms     end-to-end latency in milliseconds (required, finite, >= 0)
    program        DSPy program name          module  module within the program
    model          model name, e.g. "openai/gpt-4o-mini"
    input_tokens   prompt tokens              output_tokens  completion tokens
    cache_hit      True: DSPy's cache answered; False: the model did; None: unknown
    error          True (or an exception or message) when the request failed
    status         HTTP-like status, 100-599 (0 or None: unknown)
    ts             completion time, datetime or Unix seconds (None: when the agent receives it)
    ttft_ms        time to first token in milliseconds, for streamed responses (<= latency_ms)
    queue_length   requests waiting for a worker in the service now (its own count), the
                   node's queue_length for scaling on queue_length_per_node

    Returns True when queued, False when dropped. Never raises: bad values drop the record and
    count it in stats()["invalid"].
    """
    try:
        r = _default or default_reporter()
        if r is None:
            return False
        return r.report(latency_ms, program, module, model, input_tokens, output_tokens,
                        cache_hit, error, status, ts, ttft_ms, queue_length)
    except Exception:
        return False


def flush(timeout=5.0):
    """Flushes the module-level reporter; True when everything queued was handled."""
    r = _default
    return True if r is None else r.flush(timeout)


def stats():
    """The module-level reporter's counters (see Reporter.stats), or {} before first use."""
    r = _default
    return {} if r is None else r.stats()


def __getattr__(name):
    # DSPyCallback is built on first use so that `import dspyfleet` does not import DSPy.
    if name == "DSPyCallback":
        from .callback import DSPyCallback
        globals()["DSPyCallback"] = DSPyCallback
        return DSPyCallback
    raise AttributeError("module %r has no attribute %r" % (__name__, name))

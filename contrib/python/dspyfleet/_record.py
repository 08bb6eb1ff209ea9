"""Validation of request records, matching the checks the dspyfleet agent applies.

A record that fails here would be refused by the agent anyway, so it is dropped before it is
queued: it costs no queue space and no network.
"""

import datetime
import math
import numbers

# The agent refuses program, module and model names longer than this many UTF-8 bytes
# (reqstats.MaxNameLen).
MAX_NAME_BYTES = 128


class InvalidRecord(ValueError):
    """A value that the agent would refuse; the record is dropped and counted."""


def _duration_ms(field, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidRecord("%s: %r is not a number" % (field, value))
    value = float(value)
    if math.isnan(value) or math.isinf(value):
        raise InvalidRecord("%s: %r is not finite" % (field, value))
    if value < 0:
        raise InvalidRecord("%s: %r is negative" % (field, value))
    return value


def _tokens(field, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidRecord("%s: %r is not a number" % (field, value))
    if not isinstance(value, numbers.Integral):
        value = float(value)
        if not value.is_integer():  # also refuses NaN and infinities
            raise InvalidRecord("%s: %r is not a whole number" % (field, value))
    value = int(value)
    if value < 0:
        raise InvalidRecord("%s: %d is negative" % (field, value))
    return value


def check_name(field, value):
    """Returns value when the agent would take it as a name; raises InvalidRecord otherwise."""
    if not isinstance(value, str):
        raise InvalidRecord("%s: %r is not a string" % (field, value))
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:  # lone surrogates
        raise InvalidRecord("%s: is not valid UTF-8" % field) from None
    if size > MAX_NAME_BYTES:
        raise InvalidRecord("%s: is %d bytes, longer than %d" % (field, size, MAX_NAME_BYTES))
    if not value.isprintable():
        for ch in value:
            if _is_control(ch):
                raise InvalidRecord("%s: holds control character U+%04X" % (field, ord(ch)))
    return value


def _is_control(ch):
    # Go's unicode.IsControl: C0, DEL and C1 only (str.isprintable also refuses spaces other
    # than U+0020, which the agent takes).
    code = ord(ch)
    return code < 0x20 or 0x7F <= code < 0xA0


def clean_name(value):
    """Makes value a name the agent takes: control characters removed, cut to MAX_NAME_BYTES
    bytes on a character boundary. Returns None for an empty result or a non-string."""
    if not isinstance(value, str):
        return None
    if not value.isprintable():
        value = "".join(ch for ch in value if not _is_control(ch))
    data = value.encode("utf-8", "replace")
    if len(data) > MAX_NAME_BYTES:
        value = data[:MAX_NAME_BYTES].decode("utf-8", "ignore")
    else:
        value = data.decode("utf-8")
    return value or None


def _timestamp(value):
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.astimezone()  # naive means local time, as datetime.timestamp() has it
        value = value.astimezone(datetime.timezone.utc)
    else:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise InvalidRecord("ts: %r is neither a datetime nor Unix seconds" % (value,))
        seconds = float(value)
        if math.isnan(seconds) or math.isinf(seconds) or seconds < 0:
            raise InvalidRecord("ts: %r is not a time" % (value,))
        try:
            value = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise InvalidRecord("ts: %r is out of range" % (value,)) from None
    # RFC 3339 with microseconds, UTC.
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# MAX_QUEUE_LENGTH is the largest queue_length the agent accepts.
MAX_QUEUE_LENGTH = 1000000


def build(latency_ms, program=None, module=None, model=None, input_tokens=None,
          output_tokens=None, cache_hit=None, error=None, status=None, ts=None, ttft_ms=None,
          queue_length=None):
    """Returns the JSON object for one request, or raises InvalidRecord.

    Fields left as None are left out of the record: the agent counts them as unknown.
    """
    rec = {"latency_ms": _duration_ms("latency_ms", latency_ms)}
    if program is not None:
        rec["program"] = check_name("program", program)
    if module is not None:
        rec["module"] = check_name("module", module)
    if model is not None:
        rec["model"] = check_name("model", model)
    if input_tokens is not None:
        rec["input_tokens"] = _tokens("input_tokens", input_tokens)
    if output_tokens is not None:
        rec["output_tokens"] = _tokens("output_tokens", output_tokens)
    if cache_hit is not None:
        if not isinstance(cache_hit, (bool, numbers.Integral)):
            raise InvalidRecord("cache_hit: %r is not a bool" % (cache_hit,))
        rec["cache_hit"] = bool(cache_hit)
    if error is not None:
        # True, an exception or a message: the request failed. False: it did not.
        rec["error"] = error is not False and error != 0 and error != ""
    if status is not None:
        if isinstance(status, bool) or not isinstance(status, numbers.Integral):
            raise InvalidRecord("status: %r is not an integer" % (status,))
        status = int(status)
        if status != 0:
            if not 100 <= status <= 599:
                raise InvalidRecord("status: %d is not 0 (unknown) or 100-599" % status)
            rec["status"] = status
    if ts is not None:
        rec["ts"] = _timestamp(ts)
    if ttft_ms is not None:
        rec["ttft_ms"] = _duration_ms("ttft_ms", ttft_ms)
        if rec["ttft_ms"] > rec["latency_ms"]:
            raise InvalidRecord("ttft_ms: %r is longer than latency_ms %r"
                                % (rec["ttft_ms"], rec["latency_ms"]))
    if queue_length is not None:
        rec["queue_length"] = _tokens("queue_length", queue_length)
        if rec["queue_length"] > MAX_QUEUE_LENGTH:
            raise InvalidRecord("queue_length: %d is more than %d"
                                % (rec["queue_length"], MAX_QUEUE_LENGTH))
    return rec

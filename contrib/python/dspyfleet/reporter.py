"""Reporter: a bounded queue and one background thread that POSTs request records to the local
dspyfleet agent as NDJSON.

The application thread only validates a record and appends it to an in-memory queue under a
lock; it never waits on the network. When the queue is full, or the agent is down, records are
dropped and counted rather than slowing the application.
"""

import atexit
import collections
import email.utils
import json
import logging
import os
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import weakref

from . import _record

log = logging.getLogger("dspyfleet")

DEFAULT_URL = "http://127.0.0.1:7072/v1/requests"
URL_ENV = "DSPYFLEET_INTAKE_URL"

# Every live reporter, for the atexit hook and for resetting locks in a forked child.
_live = weakref.WeakSet()


class Reporter(object):
    """Batches request records and delivers them to the agent's intake in the background.

    url             the intake endpoint; default $DSPYFLEET_INTAKE_URL, else DEFAULT_URL
    batch_size      records per POST; a full batch is sent at once
    flush_interval  seconds a partial batch waits before it is sent
    max_queue       records held while waiting; beyond that new records are dropped
    timeout         seconds for each HTTP request (connect and read)
    max_retries     further attempts for a batch after a 429, a 5xx or a network error
    backoff         first retry delay in seconds when the agent gives no Retry-After; doubles
    max_backoff     longest retry delay without Retry-After
    max_retry_after longest Retry-After honoured, in seconds

    report() never raises and never blocks on the network. stats() says what became of the
    records.
    """

    def __init__(self, url=None, batch_size=100, flush_interval=1.0, max_queue=10000,
                 timeout=2.0, max_retries=3, backoff=0.2, max_backoff=5.0,
                 max_retry_after=30.0):
        if url is None:
            url = os.environ.get(URL_ENV) or DEFAULT_URL
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError("dspyfleet: intake URL %r must be http(s)://host:port/path" % (url,))
        for name, value in (("batch_size", batch_size), ("max_queue", max_queue)):
            if int(value) < 1:
                raise ValueError("dspyfleet: %s must be at least 1, not %r" % (name, value))
        if int(max_retries) < 0:
            raise ValueError("dspyfleet: max_retries must not be negative")
        for name, value in (("flush_interval", flush_interval), ("timeout", timeout)):
            if not float(value) > 0:
                raise ValueError("dspyfleet: %s must be positive, not %r" % (name, value))
        self.url = url
        self.batch_size = int(batch_size)
        self.flush_interval = float(flush_interval)
        self.max_queue = int(max_queue)
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.backoff = max(0.0, float(backoff))
        self.max_backoff = max(0.0, float(max_backoff))
        self.max_retry_after = max(0.0, float(max_retry_after))
        # The agent is local: never send its traffic through an HTTP(S)_PROXY.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self._init_state()
        self._counts = dict.fromkeys(
            ("sent", "rejected", "retried", "invalid", "queue_full", "send_failed", "closed"), 0)
        self._batches_failed = 0
        self._last_warning = 0.0
        _live.add(self)

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self  # one queue and one thread per reporter, however often DSPy copies

    def _init_state(self):
        self._lock = threading.Lock()
        self._done_cond = threading.Condition(self._lock)  # flush() waits on it
        self._wake = threading.Event()   # work for the sender
        self._abort = threading.Event()  # close() ran out of time: stop sending now
        self._queue = collections.deque()
        self._enqueued = 0  # records ever queued
        self._handled = 0   # queued records sent, rejected or dropped
        self._flush_requested = False
        self._closing = False
        self._thread = None
        self._agent_down = False  # the last batch failed every attempt
        self._pid = os.getpid()

    # -- application side -------------------------------------------------------------------

    def report(self, latency_ms, program=None, module=None, model=None, input_tokens=None,
               output_tokens=None, cache_hit=None, error=None, status=None, ts=None,
               ttft_ms=None, queue_length=None):
        """Queues one completed request. Returns True when it was queued, False when it was
        dropped (bad value, full queue, closed reporter). Never raises."""
        try:
            rec = _record.build(latency_ms, program, module, model, input_tokens, output_tokens,
                                cache_hit, error, status, ts, ttft_ms, queue_length)
        except Exception as e:  # InvalidRecord, or anything odd about the values given
            self._count("invalid")
            self._warn("dropped a request record with a bad value: %s", e)
            return False
        try:
            return self._submit(rec)
        except Exception:  # never into the application
            self._count("invalid")
            return False

    def _submit(self, rec):
        if self._pid != os.getpid():
            _after_fork_in_child()
        with self._lock:
            if self._closing:
                self._counts["closed"] += 1
                return False
            if len(self._queue) >= self.max_queue:
                self._counts["queue_full"] += 1
                return False
            self._queue.append(rec)
            self._enqueued += 1
            n = len(self._queue)
            if self._thread is None:
                self._start_locked()
        # The queue grows one record at a time, so it passes every multiple of batch_size; the
        # wake-up is sticky, so waking only there loses none and keeps report() cheap while
        # the sender is busy.
        if n % self.batch_size == 0:
            self._wake.set()
        return True

    def flush(self, timeout=5.0):
        """Sends every record queued so far, waiting at most timeout seconds. Returns True when
        all of them were sent, rejected or dropped by then."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self._lock:
            target = self._enqueued
            if self._handled >= target:
                return True
            self._flush_requested = True
        self._wake.set()
        with self._lock:
            while self._handled < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._done_cond.wait(min(remaining, 0.1))
                if self._thread is None or not self._thread.is_alive():
                    return self._handled >= target
            return True

    def close(self, timeout=5.0):
        """Stops taking records, sends what is queued within timeout seconds, drops and counts
        the rest, and stops the background thread. Safe to call more than once; called for every
        live reporter at interpreter exit."""
        with self._lock:
            self._closing = True
            thread = self._thread
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.0, timeout))
            if thread.is_alive():
                self._abort.set()  # cuts retry sleeps short; an HTTP request in flight finishes
                self._drop_queued()
                thread.join(0.05)
        _live.discard(self)

    def stats(self):
        """Counters since the reporter was created:

        sent      records the agent accepted
        rejected  records the agent refused (a bad line in an accepted batch)
        dropped   records lost: invalid + queue_full + send_failed + closed
        retried   batch attempts repeated after a 429, a 5xx or a network error
        invalid   records with a bad value, never queued
        queue_full  records refused because max_queue records were waiting
        send_failed records in batches that failed every attempt
        closed    records reported after close()
        queued    records waiting now
        """
        with self._lock:
            s = dict(self._counts)
            s["queued"] = len(self._queue)
        s["dropped"] = s["invalid"] + s["queue_full"] + s["send_failed"] + s["closed"]
        return s

    # -- sender side ------------------------------------------------------------------------

    def _start_locked(self):
        t = threading.Thread(target=self._run, name="dspyfleet-reporter", daemon=True)
        self._thread = t
        t.start()

    def _run(self):
        try:
            self._loop()
        except Exception:  # a bug here must not leave flush() waiting forever
            log.exception("dspyfleet: reporter thread failed; records will be dropped")
            self._drop_queued()
            with self._lock:
                self._closing = True

    def _loop(self):
        deadline = time.monotonic() + self.flush_interval
        while True:
            self._wake.wait(max(0.0, deadline - time.monotonic()))
            self._wake.clear()
            with self._lock:
                closing = self._closing
                force = closing or self._flush_requested or time.monotonic() >= deadline
                if force:
                    self._flush_requested = False
            while not self._abort.is_set():
                batch = self._take(force)
                if not batch:
                    break
                self._send(batch)
            if force:
                deadline = time.monotonic() + self.flush_interval
            if self._abort.is_set():
                self._drop_queued()
                return
            if closing:
                with self._lock:
                    if not self._queue:
                        return

    def _take(self, partial):
        with self._lock:
            q = self._queue
            if not q or (len(q) < self.batch_size and not partial):
                return None
            return [q.popleft() for _ in range(min(len(q), self.batch_size))]

    def _send(self, batch):
        try:
            body = "".join(json.dumps(r, separators=(",", ":"), allow_nan=False) + "\n"
                           for r in batch).encode("utf-8")
        except Exception as e:  # cannot happen for validated records; never loop on it
            self._settle(len(batch), failed=len(batch), why="cannot encode batch: %s" % e)
            return
        # While the agent is down, try each batch once so the queue drains and drops are counted
        # promptly instead of piling up behind retries.
        retries = 0 if self._agent_down else self.max_retries
        attempt = 0
        while True:
            status, retry_after, reply, why = self._post(body)
            if status is not None and 200 <= status < 300:
                self._agent_down = False
                self._accept(len(batch), reply)
                return
            if status is not None and 400 <= status < 500 and status != 429 and _judged(reply):
                # The agent read every line and refused them all (it answers 400 then).
                self._agent_down = False
                self._accept(len(batch), reply)
                return
            retryable = status is None or status == 429 or status >= 500
            if not retryable or attempt >= retries or self._abort.is_set():
                if retryable:
                    self._agent_down = True
                self._settle(len(batch), failed=len(batch), why=why)
                return
            if retry_after is not None:
                delay = min(retry_after, self.max_retry_after)
            else:
                delay = min(self.backoff * (2 ** attempt), self.max_backoff)
                delay *= random.uniform(0.5, 1.0)
            attempt += 1
            self._count("retried")
            if self._abort.wait(delay):
                self._settle(len(batch), failed=len(batch), why=why)
                return

    def _post(self, body):
        """Returns (status or None, Retry-After seconds or None, parsed reply or None, why)."""
        req = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/x-ndjson",
            "User-Agent": "dspyfleet-python",
        })
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                raw = resp.read(1 << 20)
                status = resp.status
        except urllib.error.HTTPError as e:
            try:
                raw = e.read(1 << 20)
            except Exception:
                raw = b""
            retry_after = _retry_after(e.headers.get("Retry-After") if e.headers else None)
            e.close()
            detail = raw[:512].decode("utf-8", "replace").strip()
            return e.code, retry_after, _parse(raw), "HTTP %d %s" % (e.code, detail)
        except Exception as e:  # connection refused, timeout, reset, bad URL, ...
            return None, None, None, "%s: %s" % (type(e).__name__, e)
        return status, None, _parse(raw), "HTTP %d" % status

    def _accept(self, n, reply):
        rejected = 0
        accepted = n
        if isinstance(reply, dict):
            lines = reply.get("rejected")
            if isinstance(lines, list):
                more = reply.get("more_rejected")  # refused lines past those listed
                if not isinstance(more, int) or isinstance(more, bool) or more < 0:
                    more = 0
                rejected = min(len(lines) + more, n)
                if rejected:
                    self._warn("the agent refused %d of %d request records; first: %s",
                               rejected, n, _first_errors(lines))
            acc = reply.get("accepted")
            if isinstance(acc, int) and not isinstance(acc, bool) and 0 <= acc <= n - rejected:
                accepted = acc
            else:
                accepted = n - rejected
        with self._lock:
            self._counts["sent"] += accepted
            self._counts["rejected"] += rejected
            # Lines neither accepted nor refused (a short answer) count as failed to send.
            self._counts["send_failed"] += n - accepted - rejected
            self._handled += n
            self._done_cond.notify_all()

    def _settle(self, n, failed, why):
        with self._lock:
            self._counts["send_failed"] += failed
            self._handled += n
            self._batches_failed += 1
            self._done_cond.notify_all()
        self._warn("dropped %d request records: could not deliver to %s: %s", failed, self.url, why)

    def _drop_queued(self):
        with self._lock:
            n = len(self._queue)
            self._queue.clear()
            self._counts["send_failed"] += n
            self._handled += n
            self._done_cond.notify_all()

    def _count(self, key):
        with self._lock:
            self._counts[key] += 1

    def _warn(self, fmt, *args):
        # At most one warning every 60 s: a dead agent must not flood the application's log.
        try:
            now = time.monotonic()
            if now - self._last_warning < 60 and self._last_warning:
                log.debug("dspyfleet: " + fmt, *args)
                return
            self._last_warning = now
            log.warning("dspyfleet: " + fmt, *args)
        except Exception:
            pass

    def _reset_after_fork(self):
        # The child has a copy of the queue but not the thread; the parent sends those records.
        self._init_state()


def _parse(raw):
    try:
        return json.loads(raw.decode("utf-8")) if raw.strip() else None
    except Exception:
        return None


def _judged(reply):
    """Whether reply is the agent's per-line verdict on a batch."""
    return (isinstance(reply, dict) and isinstance(reply.get("rejected"), list)
            and isinstance(reply.get("accepted"), int))


def _retry_after(value):
    """Seconds from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    except Exception:
        return None


def _first_errors(lines):
    try:
        first = lines[0]
        return "line %s: %s" % (first.get("line"), "; ".join(
            "%s: %s" % (e.get("field"), e.get("message")) for e in first.get("errors") or []))
    except Exception:
        return repr(lines[:1])


def _after_fork_in_child():
    for r in list(_live):
        if r._pid != os.getpid():
            r._reset_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@atexit.register
def _close_all():
    for r in list(_live):
        try:
            r.close()
        except Exception:
            pass

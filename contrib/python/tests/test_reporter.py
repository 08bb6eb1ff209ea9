import datetime
import json
import math
import os
import subprocess
import sys
import time
import unittest
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _support import IntakeServer, free_port, wait_for  # noqa: E402

import dspyfleet  # noqa: E402
from dspyfleet import reporter as reporter_mod  # noqa: E402


class ReporterTest(unittest.TestCase):
    def setUp(self):
        self.server = IntakeServer()
        self.addCleanup(self.server.close)

    def reporter(self, **kwargs):
        kwargs.setdefault("url", self.server.url)
        r = dspyfleet.Reporter(**kwargs)
        self.addCleanup(r.close, 1.0)
        return r

    def test_full_batches_are_sent_at_once_as_ndjson(self):
        r = self.reporter(batch_size=10, flush_interval=60)
        for i in range(25):
            self.assertTrue(r.report(latency_ms=i, program="p", model="m", input_tokens=i))
        self.assertTrue(wait_for(lambda: len(self.server.all_posts()) >= 2))
        time.sleep(0.2)  # the 5 left over wait for the interval, an hour away
        posts = self.server.all_posts()
        self.assertEqual([len(p.records) for p in posts], [10, 10])
        for p in posts:
            self.assertEqual(p.path, "/v1/requests")
            self.assertEqual(p.content_type, "application/x-ndjson")
            self.assertTrue(p.body.endswith(b"\n"))
        self.assertTrue(r.flush(5))
        posts = self.server.all_posts()
        self.assertEqual([len(p.records) for p in posts], [10, 10, 5])
        got = [rec["latency_ms"] for p in posts for rec in p.records]
        self.assertEqual(got, [float(i) for i in range(25)])  # in order
        self.assertEqual(posts[0].records[3], {"latency_ms": 3.0, "program": "p", "model": "m",
                                               "input_tokens": 3})
        s = r.stats()
        self.assertEqual((s["sent"], s["dropped"], s["rejected"], s["retried"], s["queued"]),
                         (25, 0, 0, 0, 0))

    def test_partial_batch_goes_after_the_flush_interval(self):
        r = self.reporter(batch_size=100, flush_interval=0.2)
        start = time.monotonic()
        for _ in range(3):
            r.report(latency_ms=1.5)
        self.assertTrue(wait_for(lambda: self.server.all_posts(), timeout=3))
        took = time.monotonic() - start
        self.assertLess(took, 2.0)
        self.assertEqual(len(self.server.all_posts()[0].records), 3)
        self.assertEqual(r.stats()["sent"], 3)

    def test_close_sends_what_is_queued_then_refuses(self):
        r = self.reporter(batch_size=100, flush_interval=60)
        for _ in range(7):
            r.report(latency_ms=2)
        self.assertEqual(self.server.all_posts(), [])
        r.close(5)
        self.assertEqual(len(self.server.accepted_records()), 7)
        self.assertFalse(r.report(latency_ms=2))
        s = r.stats()
        self.assertEqual((s["sent"], s["closed"], s["dropped"]), (7, 1, 1))
        r.close()  # twice is fine

    def test_429_retry_after_is_honoured_then_the_batch_goes_through(self):
        self.server.answer_next(429, {"Retry-After": "1"})
        r = self.reporter(batch_size=100, flush_interval=60, backoff=0.001)
        for i in range(5):
            r.report(latency_ms=i)
        self.assertTrue(r.flush(10))
        posts = self.server.all_posts()
        self.assertEqual([p.status for p in posts], [429, 200])
        self.assertEqual(posts[0].body, posts[1].body)
        self.assertGreaterEqual(posts[1].at - posts[0].at, 0.9)
        s = r.stats()
        self.assertEqual((s["sent"], s["retried"], s["dropped"]), (5, 1, 0))

    def test_retry_after_http_date(self):
        when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=30)
        got = reporter_mod._retry_after(when.strftime("%a, %d %b %Y %H:%M:%S GMT"))
        self.assertTrue(28 <= got <= 31, got)
        self.assertEqual(reporter_mod._retry_after("2"), 2.0)
        self.assertIsNone(reporter_mod._retry_after("soon"))
        self.assertIsNone(reporter_mod._retry_after(None))

    def test_429_is_retried_a_bounded_number_of_times(self):
        for _ in range(10):
            self.server.answer_next(429, {"Retry-After": "0"})
        r = self.reporter(flush_interval=60, max_retries=2)
        r.report(latency_ms=1)
        r.report(latency_ms=2)
        self.assertTrue(r.flush(10))
        self.assertEqual(len(self.server.all_posts()), 3)
        s = r.stats()
        self.assertEqual((s["sent"], s["retried"], s["dropped"], s["send_failed"]), (0, 2, 2, 2))

    def test_server_errors_back_off_then_drop(self):
        for _ in range(10):
            self.server.answer_next(503)
        r = self.reporter(flush_interval=60, max_retries=3, backoff=0.01)
        r.report(latency_ms=1)
        self.assertTrue(r.flush(10))
        self.assertEqual(len(self.server.all_posts()), 4)
        s = r.stats()
        self.assertEqual((s["sent"], s["retried"], s["dropped"]), (0, 3, 1))

    def test_client_errors_are_not_retried(self):
        self.server.answer_next(400, body=b'{"error":"bad body"}')
        r = self.reporter(flush_interval=60, max_retries=3, backoff=0.01)
        r.report(latency_ms=1)
        self.assertTrue(r.flush(10))
        self.assertEqual(len(self.server.all_posts()), 1)
        s = r.stats()
        self.assertEqual((s["retried"], s["dropped"], s["send_failed"]), (0, 1, 1))

    def test_lines_the_agent_rejects_are_counted(self):
        self.server.reject = lambda rec: rec.get("model") == "bad"
        r = self.reporter(flush_interval=60)
        for i in range(10):
            r.report(latency_ms=1, model="bad" if i % 5 == 0 else "good")
        self.assertTrue(r.flush(5))
        s = r.stats()
        self.assertEqual((s["sent"], s["rejected"], s["dropped"]), (8, 2, 0))

    def test_a_batch_refused_whole_counts_as_rejected_not_failed(self):
        self.server.reject = lambda rec: True  # the agent answers 400 with the verdicts
        r = self.reporter(flush_interval=60, max_retries=3)
        for _ in range(4):
            r.report(latency_ms=1)
        self.assertTrue(r.flush(5))
        self.assertEqual([p.status for p in self.server.all_posts()], [400])
        s = r.stats()
        self.assertEqual((s["sent"], s["rejected"], s["dropped"], s["retried"]), (0, 4, 0, 0))

    def test_rejections_past_the_listed_ones_are_counted(self):
        self.server.answer_next(200, body=json.dumps({
            "accepted": 1, "rejected": [{"line": 1, "errors": [{"message": "bad"}]}],
            "more_rejected": 2}).encode())
        r = self.reporter(flush_interval=60)
        for _ in range(4):
            r.report(latency_ms=1)
        self.assertTrue(r.flush(5))
        s = r.stats()
        self.assertEqual((s["sent"], s["rejected"], s["dropped"]), (1, 3, 0))

    def test_agent_down_drops_and_counts_and_never_slows_the_app(self):
        url = "http://127.0.0.1:%d/v1/requests" % free_port()  # nothing listens there
        r = self.reporter(url=url, batch_size=100, flush_interval=0.05, max_retries=3,
                          backoff=0.01, timeout=0.5)
        start = time.perf_counter()
        for i in range(1000):
            r.report(latency_ms=i, program="p", model="m", input_tokens=1, output_tokens=1,
                     cache_hit=False)
        took = time.perf_counter() - start
        self.assertLess(took, 0.05, "1000 report() calls took %.1f ms" % (took * 1000))
        self.assertTrue(r.flush(10))
        s = r.stats()
        self.assertEqual((s["sent"], s["dropped"], s["send_failed"], s["queued"]),
                         (0, 1000, 1000, 0))
        self.assertGreaterEqual(s["retried"], 3)

    def test_slow_agent_never_slows_the_app(self):
        self.server.delay = 0.5
        r = self.reporter(batch_size=10, flush_interval=0.01)
        r.report(latency_ms=1)
        time.sleep(0.05)  # the sender is now waiting on the slow agent
        start = time.perf_counter()
        for i in range(1000):
            r.report(latency_ms=i)
        # Far below the agent's 0.5 s: report() never waits on the request in flight.
        self.assertLess(time.perf_counter() - start, 0.25)

    def test_full_queue_drops_the_newest(self):
        r = self.reporter(batch_size=100, flush_interval=60, max_queue=5)
        results = [r.report(latency_ms=i) for i in range(8)]
        self.assertEqual(results, [True] * 5 + [False] * 3)
        s = r.stats()
        self.assertEqual((s["queue_full"], s["dropped"], s["queued"]), (3, 3, 5))
        self.assertTrue(r.flush(5))
        self.assertEqual([rec["latency_ms"] for rec in self.server.accepted_records()],
                         [0.0, 1.0, 2.0, 3.0, 4.0])

    def test_bad_values_are_dropped_and_counted_never_raised(self):
        r = self.reporter(flush_interval=60)
        bad = [
            dict(latency_ms=-1),
            dict(latency_ms=float("nan")),
            dict(latency_ms=math.inf),
            dict(latency_ms="12"),
            dict(latency_ms=None),
            dict(latency_ms=True),
            dict(latency_ms=1, input_tokens=-1),
            dict(latency_ms=1, output_tokens=1.5),
            dict(latency_ms=1, output_tokens=float("nan")),
            dict(latency_ms=1, input_tokens="10"),
            dict(latency_ms=1, status=700),
            dict(latency_ms=1, status=42),
            dict(latency_ms=1, program="x" * 129),
            dict(latency_ms=1, module="bad\nname"),
            dict(latency_ms=1, model=b"bytes"),
            dict(latency_ms=1, model="\ud800"),
            dict(latency_ms=1, cache_hit="yes"),
            dict(latency_ms=1, ts=float("nan")),
            dict(latency_ms=1, ts="yesterday"),
            dict(latency_ms=1, ttft_ms=-5),
            dict(latency_ms=1, ttft_ms=2),
            dict(latency_ms=1, queue_length=-1),
            dict(latency_ms=1, queue_length=1.5),
            dict(latency_ms=1, queue_length=1000001),
        ]
        for kwargs in bad:
            self.assertFalse(r.report(**kwargs), kwargs)
        s = r.stats()
        self.assertEqual((s["invalid"], s["dropped"], s["queued"]), (len(bad), len(bad), 0))
        # The module-level function takes the same and never raises either.
        self.assertFalse(dspyfleet.report(latency_ms=float("nan")))
        self.assertFalse(dspyfleet.report(latency_ms=-3, program=object()))

    def test_good_values_are_encoded_as_the_agent_expects(self):
        r = self.reporter(flush_interval=60)
        ts = datetime.datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.timezone.utc)
        self.assertTrue(r.report(12, program="qa", module="Predict", model="openai/gpt-4o-mini",
                                 input_tokens=10.0, output_tokens=5, cache_hit=True,
                                 error=ValueError("x"), status=0, ts=ts, ttft_ms=3,
                                 queue_length=4))
        self.assertTrue(r.report(0, error=False, status=503, ts=ts.timestamp(),
                                 program="x" * 128, cache_hit=0))
        self.assertTrue(r.flush(5))
        a, b = self.server.accepted_records()
        self.assertEqual(a, {"latency_ms": 12.0, "program": "qa", "module": "Predict",
                             "model": "openai/gpt-4o-mini", "input_tokens": 10,
                             "output_tokens": 5, "cache_hit": True, "error": True,
                             "ts": "2025-01-02T03:04:05.678000Z", "ttft_ms": 3.0,
                             "queue_length": 4})
        self.assertEqual(b, {"latency_ms": 0.0, "error": False, "status": 503,
                             "ts": "2025-01-02T03:04:05.678000Z", "program": "x" * 128,
                             "cache_hit": False})

    def test_url_from_environment_and_checked(self):
        with mock.patch.dict(os.environ, {"DSPYFLEET_INTAKE_URL": "http://10.1.2.3:9/x"}):
            r = dspyfleet.Reporter()
            self.addCleanup(r.close)
            self.assertEqual(r.url, "http://10.1.2.3:9/x")
        with mock.patch.dict(os.environ, {}, clear=True):
            r = dspyfleet.Reporter()
            self.addCleanup(r.close)
            self.assertEqual(r.url, "http://127.0.0.1:7072/v1/requests")
        with self.assertRaises(ValueError):
            dspyfleet.Reporter(url="unix:///tmp/x")
        with self.assertRaises(ValueError):
            dspyfleet.Reporter(batch_size=0)

    def test_proxy_settings_are_ignored(self):
        env = {"HTTP_PROXY": "http://127.0.0.1:%d" % free_port(), "http_proxy": "", "NO_PROXY": ""}
        env["http_proxy"] = env["HTTP_PROXY"]
        with mock.patch.dict(os.environ, env):
            r = self.reporter(flush_interval=60, max_retries=0)
            r.report(latency_ms=1)
            self.assertTrue(r.flush(5))
        self.assertEqual(r.stats()["sent"], 1)

    def test_flush_without_records_and_close_before_use(self):
        r = self.reporter()
        self.assertTrue(r.flush(0))
        r.close(0)
        self.assertEqual(r.stats()["dropped"], 0)

    def test_close_gives_up_on_time(self):
        for _ in range(10):
            self.server.answer_next(429, {"Retry-After": "30"})
        r = self.reporter(flush_interval=60, max_retries=5)
        for i in range(3):
            r.report(latency_ms=i)
        r.flush(0.1)
        start = time.monotonic()
        r.close(0.5)
        self.assertLess(time.monotonic() - start, 2.0)
        self.assertTrue(wait_for(lambda: r.stats()["send_failed"] == 3, timeout=2))


    @unittest.skipUnless(hasattr(os, "fork"), "no os.fork")
    def test_forked_child_sends_its_own_records(self):
        r = self.reporter(flush_interval=60)
        r.report(latency_ms=1)
        r.report(latency_ms=2)
        pid = os.fork()
        if pid == 0:  # the child: its queue starts empty, with a sender of its own
            ok = False
            try:
                r.report(latency_ms=3)
                ok = r.flush(5) and r.stats()["sent"] == 1
            finally:
                os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)
        self.assertTrue(r.flush(5))
        self.assertEqual(r.stats()["sent"], 2)
        self.assertEqual(sorted(rec["latency_ms"] for rec in self.server.accepted_records()),
                         [1.0, 2.0, 3.0])


class ImportTest(unittest.TestCase):
    def test_import_does_not_load_dspy_or_the_callback(self):
        code = ("import sys, dspyfleet; "
                "assert 'dspyfleet.callback' not in sys.modules and 'dspy' not in sys.modules; "
                "from dspyfleet import DSPyCallback; assert DSPyCallback is dspyfleet.DSPyCallback")
        out = subprocess.run([sys.executable, "-c", code], cwd=os.path.dirname(
            os.path.dirname(os.path.abspath(__file__))), stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr.decode(errors="replace"))


class ModuleLevelTest(unittest.TestCase):
    def setUp(self):
        self.server = IntakeServer()
        self.addCleanup(self.server.close)
        saved = dspyfleet._default, dspyfleet._default_failed

        def restore():
            if dspyfleet._default is not None:
                dspyfleet._default.close(1)
            dspyfleet._default, dspyfleet._default_failed = saved
        self.addCleanup(restore)
        dspyfleet._default, dspyfleet._default_failed = None, False

    def test_default_reporter_is_created_lazily_from_the_environment(self):
        with mock.patch.dict(os.environ, {"DSPYFLEET_INTAKE_URL": self.server.url}):
            self.assertEqual(dspyfleet.stats(), {})
            self.assertTrue(dspyfleet.report(latency_ms=5, program="qa", error=True))
            r = dspyfleet.default_reporter()
        self.assertEqual(r.url, self.server.url)
        self.assertIs(dspyfleet.default_reporter(), r)
        self.assertTrue(dspyfleet.flush(5))
        self.assertEqual(self.server.accepted_records(),
                         [{"latency_ms": 5.0, "program": "qa", "error": True}])
        self.assertEqual(dspyfleet.stats()["sent"], 1)

    def test_bad_environment_disables_reporting_without_raising(self):
        with mock.patch.dict(os.environ, {"DSPYFLEET_INTAKE_URL": "not a url"}):
            with self.assertLogs("dspyfleet", "WARNING"):
                self.assertFalse(dspyfleet.report(latency_ms=5))
            self.assertFalse(dspyfleet.report(latency_ms=5))

    def test_configure_replaces_the_default(self):
        r = dspyfleet.configure(url=self.server.url, flush_interval=60)
        self.assertIs(dspyfleet.default_reporter(), r)
        dspyfleet.report(latency_ms=1)
        dspyfleet.report(latency_ms=2)
        self.assertTrue(dspyfleet.flush(5))
        self.assertEqual(len(self.server.accepted_records()), 2)


if __name__ == "__main__":
    unittest.main()

import asyncio
import collections
import copy
import os
import sys
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _support import IntakeServer  # noqa: E402

import dspyfleet  # noqa: E402
from dspyfleet import callback as callback_mod  # noqa: E402


class FakeReporter(object):
    """Records what DSPyCallback reports, through Reporter's validation."""

    def __init__(self):
        self.lock = threading.Lock()
        self.records = []

    def report(self, **fields):
        from dspyfleet import _record
        rec = _record.build(**fields)
        with self.lock:
            self.records.append(rec)
        return True


# Stand-ins for DSPy objects: the callback only looks at class names, .model and .history.
class Response(object):
    def __init__(self, usage, cache_hit=None):
        self.usage = usage
        if cache_hit is not None:
            self.cache_hit = cache_hit


class FakeLM(object):
    def __init__(self, model):
        self.model = model
        self.history = collections.deque()


class RAG(object):
    pass


class Predict(object):
    pass


class ChainOfThought(object):
    pass


class RateLimitError(Exception):
    status_code = 429


def cid():
    return uuid.uuid4().hex


class Driver(object):
    """Fires the hooks the way dspy.utils.callback.with_callbacks does (keyword arguments)."""

    def __init__(self, cb):
        self.cb = cb

    def module(self, instance):
        return _ModuleCall(self.cb, instance)

    def lm(self, lm, usage=None, cache_hit=None, entry_extra=None, exception=None,
           outputs=None, history=True, sleep=0.0):
        call_id = cid()
        self.cb.on_lm_start(call_id=call_id, instance=lm, inputs={"prompt": "hi"})
        if sleep:
            time.sleep(sleep)
        if exception is None and history:
            entry = {"usage": dict(usage or {}), "model": lm.model,
                     "response": Response(dict(usage or {}), cache_hit)}
            entry.update(entry_extra or {})
            lm.history.append(entry)
        self.cb.on_lm_end(call_id=call_id, outputs=outputs if outputs is not None else ["ok"],
                          exception=exception)


class _ModuleCall(object):
    def __init__(self, cb, instance):
        self.cb, self.instance, self.call_id = cb, instance, cid()

    def __enter__(self):
        self.cb.on_module_start(call_id=self.call_id, instance=self.instance, inputs={})
        return self

    def __exit__(self, typ, exc, tb):
        self.cb.on_module_end(call_id=self.call_id, outputs=None if exc else {"answer": "42"},
                              exception=exc)
        return True  # swallow, as a test convenience


USAGE = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}


class DSPyCallbackTest(unittest.TestCase):
    def setUp(self):
        self.rep = FakeReporter()
        self.cb = dspyfleet.DSPyCallback(reporter=self.rep)
        self.d = Driver(self.cb)
        self.lm = FakeLM("openai/gpt-4o-mini")

    def test_one_record_per_lm_call_with_program_module_model_and_tokens(self):
        with self.d.module(RAG()):
            with self.d.module(ChainOfThought()):
                with self.d.module(Predict()):
                    self.d.lm(self.lm, usage=USAGE, sleep=0.02)
            with self.d.module(Predict()):
                self.d.lm(FakeLM("anthropic/claude-3-5-haiku"),
                          usage={"input_tokens": 7, "output_tokens": 3})
        a, b = self.rep.records
        self.assertGreaterEqual(a.pop("latency_ms"), 20)
        self.assertEqual(a, {"program": "RAG", "module": "Predict", "model": "openai/gpt-4o-mini",
                             "input_tokens": 10, "output_tokens": 5, "cache_hit": False,
                             "error": False})
        b.pop("latency_ms")
        self.assertEqual(b, {"program": "RAG", "module": "Predict",
                             "model": "anthropic/claude-3-5-haiku", "input_tokens": 7,
                             "output_tokens": 3, "cache_hit": False, "error": False})
        self.assertEqual(self.cb.stats(), {"reported": 2, "forgotten": 0, "internal_errors": 0,
                                           "pending": 0})

    def test_configured_program_name_wins(self):
        cb = dspyfleet.DSPyCallback(reporter=self.rep, program="qa")
        with Driver(cb).module(RAG()):
            Driver(cb).lm(self.lm, usage=USAGE)
        Driver(cb).lm(self.lm, usage=USAGE)  # outside any module: still the configured program
        self.assertEqual([r["program"] for r in self.rep.records], ["qa", "qa"])
        self.assertEqual([r.get("module") for r in self.rep.records], ["RAG", None])

    def test_lm_call_outside_modules_has_no_program_or_module(self):
        self.d.lm(self.lm, usage=USAGE)
        (r,) = self.rep.records
        self.assertNotIn("program", r)
        self.assertNotIn("module", r)
        self.assertEqual(r["model"], "openai/gpt-4o-mini")

    def test_dspy_cache_hit(self):
        # DSPy's cache empties usage and sets response.cache_hit on a hit.
        with self.d.module(Predict()):
            self.d.lm(self.lm, usage={}, cache_hit=True)
        (r,) = self.rep.records
        self.assertIs(r["cache_hit"], True)
        self.assertNotIn("input_tokens", r)
        self.assertNotIn("output_tokens", r)

    def test_cache_hit_key(self):
        self.d.lm(self.lm, usage=USAGE, entry_extra={"cache_hit": True})
        self.d.lm(self.lm, usage={}, entry_extra={"cache_hit": False})
        self.d.lm(self.lm, outputs={"usage": {}, "cache_hit": True}, history=False)
        self.assertEqual([r["cache_hit"] for r in self.rep.records], [True, False, True])

    def test_usage_in_outputs(self):
        self.d.lm(self.lm, outputs={"usage": {"prompt_tokens": 3, "completion_tokens": 2}},
                  history=False)
        (r,) = self.rep.records
        self.assertEqual((r["input_tokens"], r["output_tokens"], r["cache_hit"]), (3, 2, False))

    def test_history_disabled_gives_unknown_tokens_and_cache(self):
        self.d.lm(self.lm, usage=USAGE)  # an older entry must not be taken for this call's
        self.d.lm(self.lm, history=False)
        r = self.rep.records[1]
        self.assertNotIn("input_tokens", r)
        self.assertNotIn("cache_hit", r)
        self.assertIs(r["error"], False)

    def test_lm_error(self):
        with self.d.module(RAG()):
            self.d.lm(self.lm, exception=RateLimitError("slow down"))
            self.d.lm(self.lm, exception=RuntimeError("boom"))
        a, b = self.rep.records
        self.assertEqual((a["error"], a["status"], a["model"]), (True, 429, "openai/gpt-4o-mini"))
        self.assertNotIn("input_tokens", a)
        self.assertNotIn("cache_hit", a)
        self.assertEqual(b["error"], True)
        self.assertNotIn("status", b)

    def test_module_exception_ends_the_frame(self):
        with self.d.module(RAG()):
            raise ValueError("module failed")
        self.d.lm(self.lm, usage=USAGE)
        self.assertNotIn("program", self.rep.records[0])

    def test_threads_keep_their_own_modules(self):
        classes = [type("Program%d" % i, (object,), {}) for i in range(8)]
        errors = []

        def work(cls):
            try:
                d = Driver(self.cb)
                lm = FakeLM("m-" + cls.__name__)
                for _ in range(50):
                    with d.module(cls()):
                        with d.module(Predict()):
                            d.lm(lm, usage=USAGE)
            except Exception as e:  # pragma: no cover
                errors.append(e)

        threads = [threading.Thread(target=work, args=(c,)) for c in classes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(len(self.rep.records), 400)
        for r in self.rep.records:
            self.assertEqual(r["model"], "m-" + r["program"])
            self.assertEqual(r["module"], "Predict")
        self.assertEqual(self.cb.stats()["pending"], 0)

    def test_asyncio_tasks_keep_their_own_modules(self):
        cb, rep = self.cb, self.rep

        async def program(cls, model):
            call = cid()
            cb.on_module_start(call_id=call, instance=cls(), inputs={})
            await asyncio.sleep(0.01)
            lm_call = cid()
            lm = FakeLM(model)
            cb.on_lm_start(call_id=lm_call, instance=lm, inputs={})
            await asyncio.sleep(0.01)
            lm.history.append({"usage": USAGE})
            cb.on_lm_end(call_id=lm_call, outputs=["x"], exception=None)
            cb.on_module_end(call_id=call, outputs={}, exception=None)

        async def main():
            await asyncio.gather(*[program(type("P%d" % i, (), {}), "m%d" % i)
                                   for i in range(10)])

        asyncio.run(main())
        self.assertEqual(len(rep.records), 10)
        for r in rep.records:
            self.assertEqual(r["program"][1:], r["model"][1:])
            self.assertEqual(r["module"], r["program"])

    def test_unfinished_calls_are_bounded(self):
        cb = dspyfleet.DSPyCallback(reporter=self.rep, max_pending=10)
        ids = [cid() for _ in range(25)]
        for i in ids:
            cb.on_lm_start(i, self.lm, {})
        self.assertEqual(cb.stats()["pending"], 10)
        self.assertEqual(cb.stats()["forgotten"], 15)
        cb.on_lm_end(ids[0], ["x"])  # forgotten: not reported
        cb.on_lm_end(ids[-1], ["x"])
        self.assertEqual(len(self.rep.records), 1)
        # Module frames live in the context and are popped on end, whatever the depth.
        for _ in range(1000):
            cb.on_module_start(cid(), Predict(), {})
        self.assertLessEqual(len(cb._stack.get()), callback_mod._MAX_DEPTH)

    def test_hooks_never_raise(self):
        class Hostile(object):
            def __getattr__(self, name):
                raise RuntimeError("no " + name)

        class BadHistory(object):
            model = "m"

            @property
            def history(self):
                raise RuntimeError("history")

        class Broken(object):
            def report(self, **kw):
                raise RuntimeError("reporter broke")

        for cb in (self.cb, dspyfleet.DSPyCallback(reporter=Broken())):
            cb.on_module_start("a", Hostile(), None)
            cb.on_lm_start("b", Hostile(), None)
            cb.on_lm_end("b", Hostile(), None)
            cb.on_lm_start("c", BadHistory(), None)
            cb.on_lm_end("c", object(), Hostile())
            cb.on_lm_end("never-started", None)
            cb.on_module_end("a", None, None, extra="from a newer DSPy")
            cb.on_module_end("never-started", None)
            cb.on_lm_start(call_id="d", instance=FakeLM(None), inputs={}, extra=1)
            cb.on_lm_end(call_id="d", outputs={"usage": "garbage"}, exception=None, extra=2)
            cb.on_lm_start("e", FakeLM("x" * 500 + "\n"), {})
            cb.on_lm_end("e", {"usage": {"prompt_tokens": -4, "completion_tokens": float("nan")}})
            # Other DSPy hooks, present and future, are accepted and ignored.
            cb.on_adapter_format_start("f", object(), {})
            cb.on_tool_end("f", None, None)
            cb.on_compile_start(call_id="g", instance=object(), inputs={})
            cb.on_interpreter_execute_end("g", None, None)
        # The oversized model name was cut to what the agent takes, never dropped.
        models = [r.get("model") for r in self.rep.records]
        self.assertIn("x" * 128, models)
        with self.assertRaises(AttributeError):
            self.cb.not_a_hook

    def test_base_class(self):
        try:
            from dspy.utils.callback import BaseCallback
        except Exception:
            BaseCallback = callback_mod._PlainCallback
        self.assertTrue(issubclass(dspyfleet.DSPyCallback, BaseCallback))

    def test_deepcopy_shares_the_callback(self):
        # DSPy deep-copies LMs and modules with their callbacks (lm.copy(), optimizers).
        holder = {"callbacks": [self.cb]}
        self.assertIs(copy.deepcopy(holder)["callbacks"][0], self.cb)
        r = dspyfleet.Reporter(url="http://127.0.0.1:1/x")
        self.addCleanup(r.close, 0)
        self.assertIs(copy.deepcopy(r), r)

    def test_program_level(self):
        cb = dspyfleet.DSPyCallback(reporter=self.rep, level="program")
        d = Driver(cb)
        with d.module(RAG()):
            with d.module(Predict()):
                d.lm(self.lm, usage=USAGE)
                d.lm(self.lm, usage=USAGE)
            time.sleep(0.01)
        with d.module(RAG()):
            d.lm(self.lm, usage={}, cache_hit=True)
            d.lm(FakeLM("other"), usage={}, cache_hit=True)
        with d.module(RAG()):
            d.lm(self.lm, exception=RateLimitError("x"))
            raise RuntimeError("failed")
        d.lm(self.lm, usage=USAGE)  # outside modules: one record for the call
        a, b, c, e = self.rep.records
        self.assertGreaterEqual(a.pop("latency_ms"), 10)
        self.assertEqual(a, {"program": "RAG", "module": "RAG", "model": "openai/gpt-4o-mini",
                             "input_tokens": 20, "output_tokens": 10, "cache_hit": False,
                             "error": False})
        b.pop("latency_ms")
        self.assertEqual(b, {"program": "RAG", "module": "RAG", "cache_hit": True,
                             "error": False})
        c.pop("latency_ms")
        self.assertEqual(c, {"program": "RAG", "module": "RAG", "model": "openai/gpt-4o-mini",
                             "error": True})
        self.assertEqual((e["input_tokens"], e["model"]), (10, "openai/gpt-4o-mini"))
        with self.assertRaises(ValueError):
            dspyfleet.DSPyCallback(level="module")


class CallbackThroughReporterTest(unittest.TestCase):
    def test_records_reach_the_intake(self):
        server = IntakeServer()
        self.addCleanup(server.close)
        r = dspyfleet.Reporter(url=server.url, flush_interval=60)
        self.addCleanup(r.close, 1)
        cb = dspyfleet.DSPyCallback(reporter=r, program="qa")
        d = Driver(cb)
        lm = FakeLM("openai/gpt-4o-mini")
        with d.module(RAG()):
            d.lm(lm, usage=USAGE)
            d.lm(lm, usage={}, cache_hit=True)
            d.lm(lm, exception=RateLimitError("x"))
        self.assertTrue(r.flush(5))
        recs = server.accepted_records()
        for rec in recs:
            self.assertIsInstance(rec.pop("latency_ms"), float)
        self.assertEqual(recs, [
            {"program": "qa", "module": "RAG", "model": "openai/gpt-4o-mini", "input_tokens": 10,
             "output_tokens": 5, "cache_hit": False, "error": False},
            {"program": "qa", "module": "RAG", "model": "openai/gpt-4o-mini", "cache_hit": True,
             "error": False},
            {"program": "qa", "module": "RAG", "model": "openai/gpt-4o-mini", "error": True,
             "status": 429},
        ])


if __name__ == "__main__":
    unittest.main()

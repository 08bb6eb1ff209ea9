"""DSPyCallback: a DSPy callback that reports one record per LM call to the dspyfleet agent.

What is reported, per LM call (every dspy.LM __call__/acall that finishes, with or without an
exception):

    latency_ms     from on_lm_start to on_lm_end (time.perf_counter), the whole LM call
                   including DSPy's cache lookup and LiteLLM's own retries
    program        the program name given to DSPyCallback, else the class name of the
                   outermost DSPy module running in this thread / asyncio task; left out
                   (unknown) for an LM called outside any module
    module         the class name of the innermost module running when the LM was called
                   (usually "Predict"); left out outside any module
    model          instance.model of the LM, e.g. "openai/gpt-4o-mini"
    input_tokens   usage prompt_tokens (or input_tokens) of this call, from `outputs` when it
    output_tokens  carries usage, else from the LM's newest history entry if that entry was
                   added during this call; left out when unknown (history disabled, a
                   failed call, a cache hit whose usage DSPy empties)
    cache_hit      True when the response came from DSPy's cache (a "cache_hit" key, or
                   response.cache_hit, which DSPy sets when it empties usage on a hit); False
                   when usage shows tokens were bought; left out otherwise
    error          True when the LM call raised; status is the exception's status_code when
                   it has one in 100-599

Module calls are not reported on their own: they only name the program and module of the LM
calls inside them. With level="program" the callback instead reports one record per
outermost module call (latency of the whole call, tokens summed over its LM calls, model when
they all used one, error when the module raised); LM calls outside any module are still
reported one by one.
"""

import contextvars
import math
import threading
import time
from collections import OrderedDict

from . import _record

try:  # Subclass DSPy's base when DSPy is installed; it is never required.
    from dspy.utils.callback import BaseCallback as _Base
except Exception:  # ImportError, or a broken DSPy install
    _Base = None

_HOOKS = (
    "on_module_start", "on_module_end", "on_lm_start", "on_lm_end",
    "on_adapter_format_start", "on_adapter_format_end", "on_adapter_parse_start",
    "on_adapter_parse_end", "on_tool_start", "on_tool_end", "on_evaluate_start",
    "on_evaluate_end",
)


def _noop(*args, **kwargs):
    return None


class _PlainCallback(object):
    """Stands in for dspy.utils.callback.BaseCallback when DSPy is not installed."""

    def on_adapter_format_start(self, call_id, instance, inputs, **kwargs):
        pass

    def on_adapter_format_end(self, call_id, outputs, exception=None, **kwargs):
        pass

    def on_adapter_parse_start(self, call_id, instance, inputs, **kwargs):
        pass

    def on_adapter_parse_end(self, call_id, outputs, exception=None, **kwargs):
        pass

    def on_tool_start(self, call_id, instance, inputs, **kwargs):
        pass

    def on_tool_end(self, call_id, outputs, exception=None, **kwargs):
        pass

    def on_evaluate_start(self, call_id, instance, inputs, **kwargs):
        pass

    def on_evaluate_end(self, call_id, outputs, exception=None, **kwargs):
        pass


_Base = _Base or _PlainCallback

# Stack depth kept per thread / task; deeper module calls are not tracked.
_MAX_DEPTH = 256


class _Frame(object):
    __slots__ = ("call_id", "name", "start", "top", "n_lm", "in_tok", "out_tok", "models",
                 "hits", "misses")

    def __init__(self, call_id, name, start, top):
        self.call_id = call_id
        self.name = name
        self.start = start
        self.top = top
        self.n_lm = 0
        self.in_tok = None
        self.out_tok = None
        self.models = set()
        self.hits = 0
        self.misses = 0


class _LMCall(object):
    __slots__ = ("start", "instance", "model", "last_entry", "program", "module", "top")

    def __init__(self, start, instance, model, last_entry, program, module, top):
        self.start = start
        self.instance = instance
        self.model = model
        self.last_entry = last_entry
        self.program = program
        self.module = module
        self.top = top


class DSPyCallback(_Base):
    """Reports DSPy LM calls to the dspyfleet agent; see the module documentation for exactly
    what each record holds.

    reporter     a Reporter; default: the module-level one dspyfleet.report() uses
    program      program name for every record; default: the outermost module's class name
    level        "lm" (default): one record per LM call; "program": one per outermost module
                 call
    max_pending  LM calls started and not yet ended that are remembered; the oldest is
                 forgotten (and never reported) beyond that

    Safe to use from many threads and asyncio tasks at once. Its hooks never raise.
    """

    def __init__(self, reporter=None, program=None, level="lm", max_pending=10000):
        if level not in ("lm", "program"):
            raise ValueError("dspyfleet: level must be 'lm' or 'program', not %r" % (level,))
        self._reporter = reporter
        self._program = _record.clean_name(program) if program is not None else None
        self._level = level
        self._max_pending = max(1, int(max_pending))
        self._lock = threading.Lock()
        self._pending = OrderedDict()  # call_id -> _LMCall
        # The modules running in this thread or task, outermost first, as an immutable tuple so
        # that tasks started inside a module do not share later pushes and pops.
        self._stack = contextvars.ContextVar("dspyfleet_modules_%x" % id(self), default=())
        self._counts = dict.fromkeys(("reported", "forgotten", "internal_errors"), 0)

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        # DSPy deep-copies LMs and modules (lm.copy(), optimizers) with their callbacks: share
        # this one rather than copy its locks.
        return self

    def __getattr__(self, name):
        # Hooks added by later DSPy versions (on_compile_start, on_interpreter_*...) do nothing.
        if name.startswith("on_"):
            return _noop
        raise AttributeError(name)

    def stats(self):
        """reported records, forgotten unfinished LM calls, internal_errors swallowed."""
        with self._lock:
            s = dict(self._counts)
            s["pending"] = len(self._pending)
        return s

    # -- modules -----------------------------------------------------------------------------

    def on_module_start(self, call_id, instance, inputs=None, **kwargs):
        try:
            stack = self._stack.get()
            if len(stack) >= _MAX_DEPTH:
                return
            name = _record.clean_name(type(instance).__name__)
            self._stack.set(stack + (_Frame(call_id, name, time.perf_counter(), not stack),))
        except Exception:
            self._internal_error()

    def on_module_end(self, call_id, outputs=None, exception=None, **kwargs):
        try:
            now = time.perf_counter()
            stack = self._stack.get()
            for i in range(len(stack) - 1, -1, -1):
                if stack[i].call_id == call_id:
                    break
            else:
                return
            frame = stack[i]
            # Frames above it are calls that never ended (their end hook failed): drop them too.
            self._stack.set(stack[:i])
            if self._level == "program" and frame.top:
                self._report_program(frame, now, exception)
        except Exception:
            self._internal_error()

    # -- LM calls ----------------------------------------------------------------------------

    def on_lm_start(self, call_id, instance, inputs=None, **kwargs):
        try:
            start = time.perf_counter()
            stack = self._stack.get()
            program = self._program or (stack[0].name if stack else None)
            module = stack[-1].name if stack else None
            model = _record.clean_name(getattr(instance, "model", None))
            last = _last_entry(instance)
            call = _LMCall(start, instance, model, last, program, module, stack[0] if stack else None)
            with self._lock:
                pending = self._pending
                pending[call_id] = call
                while len(pending) > self._max_pending:
                    pending.popitem(last=False)
                    self._counts["forgotten"] += 1
        except Exception:
            self._internal_error()

    def on_lm_end(self, call_id, outputs=None, exception=None, **kwargs):
        try:
            now = time.perf_counter()
            with self._lock:
                call = self._pending.pop(call_id, None)
            if call is None:
                return
            entry = None
            if exception is None:
                e = _last_entry(call.instance)
                if e is not call.last_entry and isinstance(e, dict):
                    entry = e
            usage = _usage_of(outputs)
            if usage is None and entry is not None:
                usage = _as_dict(entry.get("usage"))
            in_tok, out_tok = _tokens(usage)
            cache_hit = None if exception is not None else _cache_state(outputs, entry, usage)
            if self._level == "program" and call.top is not None:
                self._add_to_program(call.top, call.model, in_tok, out_tok, cache_hit)
                return
            self._report(
                latency_ms=(now - call.start) * 1000.0, program=call.program, module=call.module,
                model=call.model, input_tokens=in_tok, output_tokens=out_tok,
                cache_hit=cache_hit, error=exception is not None, status=_status(exception))
        except Exception:
            self._internal_error()

    # -- records -----------------------------------------------------------------------------

    def _add_to_program(self, top, model, in_tok, out_tok, cache_hit):
        with self._lock:
            top.n_lm += 1
            if model:
                top.models.add(model)
            if in_tok is not None:
                top.in_tok = (top.in_tok or 0) + in_tok
            if out_tok is not None:
                top.out_tok = (top.out_tok or 0) + out_tok
            if cache_hit is True:
                top.hits += 1
            elif cache_hit is False:
                top.misses += 1

    def _report_program(self, frame, now, exception):
        with self._lock:
            models = sorted(frame.models)
            in_tok, out_tok = frame.in_tok, frame.out_tok
            cache_hit = None
            if frame.misses:
                cache_hit = False
            elif frame.n_lm and frame.hits == frame.n_lm:
                cache_hit = True
        self._report(
            latency_ms=(now - frame.start) * 1000.0, program=self._program or frame.name,
            module=frame.name, model=models[0] if len(models) == 1 else None,
            input_tokens=in_tok, output_tokens=out_tok, cache_hit=cache_hit,
            error=exception is not None, status=_status(exception))

    def _report(self, **fields):
        r = self._reporter
        if r is None:
            import dspyfleet
            r = dspyfleet.default_reporter()
            if r is None:
                return
        if r.report(**fields):
            with self._lock:
                self._counts["reported"] += 1

    def _internal_error(self):
        try:
            with self._lock:
                self._counts["internal_errors"] += 1
        except Exception:
            pass


def _last_entry(lm):
    try:
        history = getattr(lm, "history", None)
        if history:
            return history[-1]
    except Exception:
        pass
    return None


def _as_dict(usage):
    if usage is None:
        return None
    if isinstance(usage, dict):
        return usage
    for attr in ("model_dump", "dict"):  # pydantic / LiteLLM Usage objects
        fn = getattr(usage, attr, None)
        if callable(fn):
            try:
                d = fn()
                if isinstance(d, dict):
                    return d
            except Exception:
                pass
    try:
        return dict(usage)
    except Exception:
        return None


def _usage_of(outputs):
    """Usage carried by the LM call's outputs, when a DSPy version or custom LM puts it there."""
    if outputs is None or isinstance(outputs, (list, tuple, str)):
        return None
    if isinstance(outputs, dict):
        return _as_dict(outputs.get("usage"))
    return _as_dict(getattr(outputs, "usage", None))


def _count(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return int(value) if value >= 0 else None


def _tokens(usage):
    if not usage:
        return None, None
    inp = usage.get("prompt_tokens")
    if inp is None:
        inp = usage.get("input_tokens")
    out = usage.get("completion_tokens")
    if out is None:
        out = usage.get("output_tokens")
    return _count(inp), _count(out)


def _flag(obj, key):
    if obj is None:
        return None
    if isinstance(obj, dict):
        v = obj.get(key)
    else:
        v = getattr(obj, key, None)
    return v if isinstance(v, bool) else None


def _cache_state(outputs, entry, usage):
    for src in (outputs if isinstance(outputs, dict) else None, entry):
        v = _flag(src, "cache_hit")
        if v is not None:
            return v
    response = entry.get("response") if entry is not None else None
    if response is None and outputs is not None and not isinstance(outputs, (list, tuple, str, dict)):
        response = outputs
    if response is not None:
        if _flag(response, "cache_hit"):
            return True
        hidden = getattr(response, "_hidden_params", None)
        if isinstance(hidden, dict) and hidden.get("cache_hit") is True:  # LiteLLM's own cache
            return True
    if usage and any(_count(usage.get(k)) for k in
                     ("prompt_tokens", "completion_tokens", "input_tokens", "output_tokens")):
        return False
    return None


def _status(exception):
    if exception is None:
        return None
    code = getattr(exception, "status_code", None)
    if isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 599:
        return code
    return None

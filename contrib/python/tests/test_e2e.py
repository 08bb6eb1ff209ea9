"""End to end: a Reporter sends known traffic to a real agent's intake; the figures must come
out exactly in `fleetctl pools stats` from the real control plane.

Builds ./cmd/dspyfleet-controlplane, ./cmd/dspyfleet-agent and ./cmd/fleetctl with the Go toolchain; skipped only
when `go` is not on PATH.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _support import free_port, wait_for  # noqa: E402

import dspyfleet  # noqa: E402

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))

MODELS = ["openai/gpt-4o-mini", "anthropic/claude-3-5-haiku", "groq/llama-3.1-8b-instant"]
N = 250


def traffic():
    """250 requests: 25 errors, 10 input and 5 output tokens each, 50 cache hits and 200
    misses, spread over 3 models (84, 83, 83)."""
    for i in range(N):
        yield dict(
            latency_ms=20.0 + (i % 50) * 3.5,
            program="py-e2e",
            module="Predict",
            model=MODELS[i % 3],
            input_tokens=10,
            output_tokens=5,
            cache_hit=(i % 5 == 1),
            error=(i % 10 == 0),
            status=500 if i % 10 == 0 else 200,
        )


def _u64(obj, key):
    """protojson prints uint64 as a string and leaves zero out."""
    return int(obj.get(key, "0"))


@unittest.skipIf(shutil.which("go") is None,
                 "go is not on PATH: the end-to-end test builds the control plane, agent and "
                 "fleetctl from this repository")
class AgentEndToEndTest(unittest.TestCase):
    procs = []

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="dspyfleet-py-e2e-")
        cls.procs = []
        try:
            cls._start()
        except BaseException:
            cls._stop()
            raise

    @classmethod
    def _start(cls):
        bindir = os.path.join(cls.tmp, "bin")
        os.mkdir(bindir)
        build = subprocess.run(
            ["go", "build", "-o", bindir + os.sep, "./cmd/dspyfleet-controlplane", "./cmd/dspyfleet-agent",
             "./cmd/fleetctl"],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=900)
        if build.returncode != 0:
            raise AssertionError("go build failed:\n" + build.stdout.decode(errors="replace"))
        cls.fleetctl = os.path.join(bindir, "fleetctl")

        cls.grpc_addr = "127.0.0.1:%d" % free_port()
        cls.cp_log = os.path.join(cls.tmp, "controlplane.log")
        cls._spawn(cls.cp_log, [
            os.path.join(bindir, "dspyfleet-controlplane"), "--grpc-listen", cls.grpc_addr,
            "--http-listen", "127.0.0.1:0", "--data-dir", os.path.join(cls.tmp, "data")])
        if not wait_for(lambda: "control plane serving" in cls._read(cls.cp_log)
                        or cls.procs[0].poll() is not None, timeout=30, interval=0.05) \
                or cls.procs[0].poll() is not None:
            raise AssertionError("control plane did not start:\n" + cls._read(cls.cp_log))

        intake_port = free_port()
        cls.intake_url = "http://127.0.0.1:%d/v1/requests" % intake_port
        cls.agent_log = os.path.join(cls.tmp, "agent.log")
        cls._spawn(cls.agent_log, [
            os.path.join(bindir, "dspyfleet-agent"), "--server", cls.grpc_addr, "--node-id", "py-node",
            "--pool", "py", "--interval", "1s", "--state-dir", os.path.join(cls.tmp, "agent"),
            "--intake-listen", "127.0.0.1:%d" % intake_port])
        agent = cls.procs[1]

        def intake_up():
            if agent.poll() is not None:
                return True
            try:
                socket.create_connection(("127.0.0.1", intake_port), timeout=0.2).close()
                return True
            except OSError:
                return False

        if not wait_for(intake_up, timeout=30, interval=0.05) or agent.poll() is not None:
            raise AssertionError("agent intake did not come up on port %d:\n%s"
                                 % (intake_port, cls._read(cls.agent_log)))

    @classmethod
    def _spawn(cls, log_path, argv):
        log = open(log_path, "wb")
        try:
            cls.procs.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                              stdin=subprocess.DEVNULL))
        finally:
            log.close()

    @staticmethod
    def _read(path):
        try:
            with open(path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    @classmethod
    def tearDownClass(cls):
        cls._stop()

    @classmethod
    def _stop(cls):
        for p in reversed(cls.procs):  # the agent first, then the control plane
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
        cls.procs = []
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def pool_stats(self):
        out = subprocess.run(
            [self.fleetctl, "--addr", self.grpc_addr, "-o", "json", "pools", "stats",
             "--pool", "py", "--window", "1h"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
        if out.returncode != 0:
            return None, out.stderr.decode(errors="replace")
        return json.loads(out.stdout), out.stdout.decode(errors="replace")

    def test_reported_traffic_shows_in_pool_stats_exactly(self):
        r = dspyfleet.Reporter(url=self.intake_url, batch_size=40, flush_interval=0.2)
        self.addCleanup(r.close, 2)
        for rec in traffic():
            self.assertTrue(r.report(**rec))
        self.assertTrue(r.flush(15), r.stats())
        s = r.stats()
        self.assertEqual((s["sent"], s["rejected"], s["dropped"]), (N, 0, 0), s)

        last = {"text": ""}

        def arrived():
            stats, text = self.pool_stats()
            last["text"] = text
            return stats is not None and _u64(stats.get("pool", {}), "requests") >= N

        if not wait_for(arrived, timeout=30, interval=0.5):
            self.fail("pool stats never showed %d requests; last fleetctl output:\n%s\n"
                      "agent log:\n%s" % (N, last["text"], self._read(self.agent_log)[-4000:]))
        stats, text = self.pool_stats()
        pool = stats["pool"]
        got = {k: _u64(pool, k) for k in
               ("requests", "errors", "inputTokens", "outputTokens", "cacheHits", "cacheMisses")}
        self.assertEqual(got, {"requests": 250, "errors": 25, "inputTokens": 2500,
                               "outputTokens": 1250, "cacheHits": 50, "cacheMisses": 200}, text)

        models = {m.get("name"): _u64(m, "requests") for m in pool.get("models", [])}
        self.assertEqual(models, {MODELS[0]: 84, MODELS[1]: 83, MODELS[2]: 83}, text)
        programs = {p.get("name"): _u64(p, "requests") for p in pool.get("programs", [])}
        self.assertEqual(programs, {"py-e2e": 250}, text)

        nodes = stats.get("nodes", [])
        self.assertEqual([n.get("name") for n in nodes], ["py-node"], text)
        self.assertEqual(_u64(nodes[0], "requests"), 250, text)


if __name__ == "__main__":
    unittest.main()

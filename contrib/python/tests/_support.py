"""Test helpers: a local HTTP intake that records NDJSON bodies, and a few utilities."""

import collections
import http.server
import json
import os
import socket
import sys
import threading
import time

# Make the package importable however the tests are started.
_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=5.0, interval=0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


class Post(object):
    def __init__(self, path, content_type, body, status, at):
        self.path = path
        self.content_type = content_type
        self.body = body
        self.status = status
        self.at = at

    @property
    def records(self):
        return [json.loads(line) for line in self.body.decode("utf-8").splitlines() if line]


class IntakeServer(object):
    """An HTTP server on 127.0.0.1:0 that answers like the agent's intake.

    script: answers to give first, each (status, headers, body bytes); then every POST is
    answered {"accepted": N, "rejected": [...]}, refusing the lines reject(record) is true
    for (status 200, or 400 when every line was refused, as the agent does). delay: seconds to sleep before answering.
    """

    def __init__(self, reject=None, delay=0.0):
        self.lock = threading.Lock()
        self.posts = []
        self.script = collections.deque()
        self.reject = reject
        self.delay = delay
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                if owner.delay:
                    time.sleep(owner.delay)
                with owner.lock:
                    step = owner.script.popleft() if owner.script else None
                if step is not None:
                    status, headers, payload = step
                else:
                    status, payload = owner._answer(body)
                    headers = {}
                with owner.lock:
                    owner.posts.append(Post(self.path, self.headers.get("Content-Type"), body,
                                            status, time.monotonic()))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d/v1/requests" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def _answer(self, body):
        accepted, rejected = 0, []
        for i, line in enumerate(body.decode("utf-8").splitlines(), 1):
            rec = json.loads(line)
            if self.reject is not None and self.reject(rec):
                rejected.append({"line": i, "errors": [{"field": "model", "message": "refused"}]})
            else:
                accepted += 1
        # Like the agent: 400 when every line was refused, else 200.
        status = 400 if rejected and not accepted else 200
        return status, json.dumps({"accepted": accepted, "rejected": rejected}).encode()

    def answer_next(self, status, headers=None, body=b"{}"):
        with self.lock:
            self.script.append((status, headers or {}, body))

    def all_posts(self):
        with self.lock:
            return list(self.posts)

    def accepted_records(self):
        out = []
        for p in self.all_posts():
            if p.status in (200, 400):
                out.extend(r for r in p.records if not (self.reject and self.reject(r)))
        return out

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


# The library warns (rate-limited) through the "dspyfleet" logger; keep test output readable.
# assertLogs still sees the records.
import logging  # noqa: E402

logging.getLogger("dspyfleet").addHandler(logging.NullHandler())
logging.getLogger("dspyfleet").propagate = False

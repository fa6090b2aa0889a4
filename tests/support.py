"""Shared test support: paths, the real wheelhouse and real app venvs, probes of a service."""

import collections
import csv
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, ".cache", "collections"))
WHEELHOUSE = os.environ.get("OXZEP7_WHEELHOUSE", os.path.join(ROOT, ".cache", "wheelhouse"))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
INDEX = os.environ.get("OXZEP7_INDEX", os.path.join(ROOT, ".cache", "index"))
OLD_VERSION, TARGET_VERSION = "3.9", "3.12"
# the tool venv's commands (tests/requirements-tools.txt): ansible-galaxy, galaxy-importer, ansible-builder
BIN = os.path.dirname(sys.executable)
# uv comes with the tool venv
UV = shutil.which("uv") or os.path.join(BIN, "uv")
# Secrets in the webhook URLs a Receiver hands out, which must never reach output, reports or ledgers
TOKEN = "T0KEN-s3cr3t-XyZ-0123456789"  # as a Slack webhook's path holds its secret
SIGNATURE = "sig0123456789abcdef"  # as a Teams Workflows webhook's query holds its signature


def pyenv_root_path():
    """Return the pyenv root that holds the test interpreters; raise when there is none."""
    root = os.environ.get("OXZEP7_TEST_PYENV_ROOT")
    if not root and shutil.which("pyenv"):
        root = subprocess.run(["pyenv", "root"], stdout=subprocess.PIPE, universal_newlines=True,
                              check=True).stdout.strip()
    if not root and os.path.isdir(os.path.expanduser("~/.pyenv/versions")):
        root = os.path.expanduser("~/.pyenv")
    if not root:
        raise RuntimeError("tests need a pyenv root with CPython %s and %s: set OXZEP7_TEST_PYENV_ROOT"
                           % (OLD_VERSION, TARGET_VERSION))
    return root


def make_app_venv(path, python, wheelhouse, requirements="requirements.txt"):
    """Create a stdlib venv (with pip) at ``path`` and install the demo app's pinned set."""
    subprocess.run([python, "-m", "venv", path], check=True)
    subprocess.run([UV, "pip", "install", "--no-config", "--python",
                    os.path.join(path, "bin", "python"), "--no-index", "--find-links", wheelhouse,
                    "-r", os.path.join(FIXTURES, "demoapp", requirements)],
                   check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return path


class Probe(threading.Thread):
    """Calls ``check`` in a loop, ``interval`` seconds (float) between the end of a call and the start of the
    next (0: a tight loop), until :meth:`stop`. Records ``(monotonic time, ok, value)`` of every call: ``value``
    is what ``check`` returned, or the exception it raised (a failed call)."""

    def __init__(self, check, interval=0.0):
        super().__init__(daemon=True)
        self.check, self.interval, self.samples, self._halt = check, interval, [], threading.Event()

    def run(self):
        while not self._halt.is_set():
            try:
                sample = (time.monotonic(), True, self.check())
            except Exception as exc:  # pylint: disable=broad-except
                sample = (time.monotonic(), False, exc)
            self.samples.append(sample)
            self._halt.wait(self.interval)

    def stop(self):
        self._halt.set()
        self.join(10)

    def summary(self):
        """``calls``, ``failed`` (ints) and ``longest_gap_ms`` between two successful calls (float, None with
        fewer than two)."""
        good = [t for t, ok, _v in self.samples if ok]
        gaps = [b - a for a, b in zip(good, good[1:])]
        return dict(calls=len(self.samples), failed=sum(1 for _t, ok, _v in self.samples if not ok),
                    longest_gap_ms=round(1000 * max(gaps), 1) if gaps else None)

    def values(self):
        """A ``collections.Counter`` of the values the successful calls returned."""
        return collections.Counter(v for _t, ok, v in self.samples if ok)

    def errors(self, limit=10):
        """The first ``limit`` exceptions of the failed calls, as ``repr`` strings."""
        return [repr(v) for _t, ok, v in self.samples if not ok][:limit]


# HAProxy's `show stat` (its management guide, "show stat") through the admin socket, by python3 on the
# balancer host, which has no socat: `python3 -c HAPROXY_SHOW_STAT <socket>` prints the CSV.
HAPROXY_SHOW_STAT = ("import socket, sys; s = socket.socket(socket.AF_UNIX); s.settimeout(10); "
                     "s.connect(sys.argv[1]); s.sendall(b'show stat\\n'); "
                     "sys.stdout.write(b''.join(iter(lambda: s.recv(65536), b'')).decode())")


def haproxy_servers(show_stat, backend):
    """Parse ``show stat`` CSV output (str); return ``{server name: row}`` for the servers of ``backend``, each
    row a dict of the CSV's columns (``status``: UP, DOWN, MAINT, DRAIN...; ``wretr``: retries; ``wredis``:
    redispatches; ``scur``: current sessions...), all strings."""
    rows = csv.DictReader(show_stat.lstrip("# ").splitlines())
    return dict((r["svname"], r) for r in rows if r["pxname"] == backend and r["svname"] not in ("FRONTEND", "BACKEND"))


class Receiver:
    """A webhook receiver: an HTTP server on 127.0.0.1 that records each POST in ``received`` (path, content
    type, JSON body) and answers as ``mode`` says: ``ok`` (204), ``error`` (500) or ``hang`` (answers 200 only
    after ``hang`` seconds). :meth:`url` hands out a URL per ``name`` (with :data:`TOKEN` and
    :data:`SIGNATURE` in it), :meth:`bodies` returns what was posted to it."""

    def __init__(self, mode="ok", hang=0.0):
        self.received = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                data = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((self.path, self.headers["Content-Type"], json.loads(data.decode())))
                if mode == "hang":
                    time.sleep(hang)
                self.send_response(500 if mode == "error" else 200 if mode == "hang" else 204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, name):
        return "http://127.0.0.1:%d/services/%s/%s?sig=%s" % (self.port, name, TOKEN, SIGNATURE)

    def bodies(self, name):
        return [body for path, _type, body in self.received if path.startswith("/services/%s/" % name)]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


WHEEL_PYPROJECT = """[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "%s"
version = "%s"
dependencies = %r
requires-python = "%s"
"""


def build_wheel(base, out, python, wheelhouse, name, version, dependencies=(), requires_python=">=3.8"):
    """Build a real pure-Python wheel of ``name`` ``version`` into ``out`` with ``uv build`` (setuptools from
    ``wheelhouse``), its source in ``base/src-<name>``; ``dependencies``: Requires-Dist strings."""
    source = os.path.join(base, "src-" + name)
    os.makedirs(source)
    with open(os.path.join(source, "pyproject.toml"), "w") as fh:
        fh.write(WHEEL_PYPROJECT % (name, version, list(dependencies), requires_python))
    with open(os.path.join(source, name.replace("-", "_") + ".py"), "w") as fh:
        fh.write("VALUE = 1\n")
    subprocess.run([UV, "build", "--wheel", "--no-config", "--python", python, "--no-index", "--find-links",
                    wheelhouse, "--out-dir", out, source], check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

"""Shared test support: paths, the real wheelhouse and real app venvs, probes of a service."""

import collections
import csv
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

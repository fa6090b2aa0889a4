"""venv_restart through Ansible: real restart commands, a real health command and a real HTTP server."""

import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from helpers import module_result, run_module


class Health:
    """A health endpoint on 127.0.0.1 that answers 503 to its first ``failing`` requests, then 200."""

    def __init__(self, failing):
        health = self
        self.failing, self.requests = failing, 0

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the name http.server calls)
                health.requests += 1
                self.send_response(503 if health.requests <= health.failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/health" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def health():
    made = []
    yield lambda failing: made.append(Health(failing)) or made[-1]
    for server in made:
        server.close()


def _marker(path):
    """A restart command that appends its start time to ``path``."""
    return [sys.executable, "-c", "import sys, time; open(sys.argv[1], 'a').write('%f\\n' % time.time())", path]


def test_restarts_in_order_then_waits_until_healthy(tmp_path, health):
    first, second = str(tmp_path / "first"), str(tmp_path / "second")
    server = health(failing=2)
    proc = run_module("venv_restart", dict(path="/srv/app/venv", restart_commands=[_marker(first), _marker(second)],
                                           health_url=server.url, health_command=[sys.executable, "-c", "pass"],
                                           retries=5, delay=1))
    result = module_result(proc)
    assert proc.returncode == 0 and result["changed"] is True, proc.stdout[-3000:]
    assert [r["cmd"][-1] for r in result["restarted"]] == [first, second]
    with open(first) as fh, open(second) as sh:
        assert float(fh.read()) <= float(sh.read())
    # two tries answered 503, the third 200; the health URL was read after the restarts
    assert (result["health"]["passed"], result["health"]["tries"], server.requests) == (True, 3, 3), result["health"]
    assert [s["status"] for s in result["health"]["samples"]] == [503, 503, 200]
    assert result["health"]["samples"][1]["at"] >= 1.0  # delay seconds apart


def test_health_that_never_passes_fails_naming_the_checks_and_the_last_failure(tmp_path, health):
    server = health(failing=100)
    proc = run_module("venv_restart", dict(path="/srv/app/venv", health_url=server.url, retries=2, delay=0))
    result = module_result(proc)
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert result["msg"].startswith("/srv/app/venv: the health URL still failed after 3 tries over "), result["msg"]
    assert "answered HTTP 503, not 200" in result["msg"] and server.requests == 3
    assert (result["rc"], result["cmd"], result["restarted"], result["changed"]) == (None, None, [], False)

    code = [sys.executable, "-c", "import sys; print('db down', file=sys.stderr); sys.exit(3)"]
    proc = run_module("venv_restart", dict(path="/srv/app/venv", health_command=code, retries=1, delay=0))
    result = module_result(proc)
    assert result["msg"].startswith("/srv/app/venv: the health command still failed after 2 tries"), result["msg"]
    assert (result["rc"], result["cmd"], result["stderr"].strip()) == (3, code, "db down"), result


def test_a_health_url_that_trickles_its_answer_fails_in_time(tmp_path):
    """The request's own timeout bounds each socket read only: a server that sends a byte a second must still
    fail the try after ``timeout`` seconds."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def trickle():
        conn, _addr = server.accept()
        conn.recv(4096)
        try:
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 100:
                conn.sendall(bytes([byte]))
                time.sleep(0.5)
        except OSError:
            pass
        conn.close()

    threading.Thread(target=trickle, daemon=True).start()
    started = time.monotonic()
    proc = run_module("venv_restart", dict(path="/srv/app/venv", retries=0, timeout=2,
                                           health_url="http://127.0.0.1:%d/" % server.getsockname()[1]))
    result = module_result(proc)
    server.close()
    assert proc.returncode != 0 and "did not answer within 2 s" in result["msg"], proc.stdout[-3000:]
    assert time.monotonic() - started < 30


def test_a_failed_check_or_restart_says_which_and_what_ran(tmp_path, health):
    server, first = health(failing=100), str(tmp_path / "first")
    proc = run_module("venv_restart", dict(path="/srv/app/venv", health_command=[sys.executable, "-c", "pass"],
                                           health_url=server.url, retries=1, delay=0))
    result = module_result(proc)
    assert result["msg"].startswith("/srv/app/venv: the health URL still failed after 2 tries"), result["msg"]
    assert (result["rc"], result["cmd"]) == (None, None) and result["seconds"] > 0, result
    proc = run_module("venv_restart", dict(path="/srv/app/venv", restart_commands=[
        _marker(first), [sys.executable, "-c", "raise SystemExit(4)"], _marker(str(tmp_path / "third"))]))
    result = module_result(proc)
    assert result["msg"].startswith("restart command 2 of /srv/app/venv failed (rc=4)"), result["msg"]
    assert result["changed"] is True and [r["cmd"][-1] for r in result["restarted"]] == [first], result
    assert os.path.exists(first) and not os.path.exists(str(tmp_path / "third"))


def test_a_restart_that_overstays_stops_the_rest(tmp_path, health):
    server, after = health(failing=0), str(tmp_path / "after")
    started = time.monotonic()
    proc = run_module("venv_restart", dict(path="/srv/app/venv", restart_timeout=2, health_url=server.url,
                                           restart_commands=[[sys.executable, "-c", "import time; time.sleep(60)"],
                                                             _marker(after)]))
    result = module_result(proc)
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert result["msg"].startswith("restart command 1 of /srv/app/venv timed out after 2 s"), result["msg"]
    assert time.monotonic() - started < 40  # TERM after 2 s, not the 60 s sleep
    assert not os.path.exists(after) and server.requests == 0


def test_check_mode_restarts_and_reads_nothing(tmp_path, health):
    server, marker = health(failing=0), str(tmp_path / "ran")
    proc = run_module("venv_restart", dict(path="/srv/app/venv", restart_commands=[_marker(marker)],
                                           health_url=server.url), check=True)
    result = module_result(proc)
    assert proc.returncode == 0 and result["changed"] is True, proc.stdout[-3000:]
    assert not os.path.exists(marker) and server.requests == 0 and result["health"] == {}
    proc = run_module("venv_restart", dict(path="/srv/app/venv", health_url=server.url), check=True)
    assert module_result(proc)["changed"] is False


@pytest.mark.parametrize("args, message", [
    (dict(restart_commands=[["true"], []]), "restart command 2 must be a non-empty argument list, not []"),
    (dict(restart_commands=["systemctl restart app"]), "restart command 1 must be a non-empty argument list"),
    (dict(restart_commands=[["echo", ["a"]]]), "restart command 1 has ['a'] among its arguments"),
    (dict(health_command=[]), "health_command must be a non-empty argument list"),
    (dict(health_command=[sys.executable, ""]), "health_command has '' among its arguments"),
    (dict(retries=-1), "retries and delay must be 0 or more"),
    (dict(timeout=0), "timeout and restart_timeout 1 or more"),
])
def test_bad_options_restart_nothing(tmp_path, args, message):
    marker = str(tmp_path / "ran")
    args = dict(dict(path="/srv/app/venv", restart_commands=[_marker(marker)]), **args)
    proc = run_module("venv_restart", args)
    result = module_result(proc)
    assert proc.returncode != 0 and message in result["msg"] and "nothing was restarted" in result["msg"], result
    assert not os.path.exists(marker)

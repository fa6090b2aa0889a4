"""The bake with late rollback, and a venv's soak (issue 15): real apps on real venvs, watched by a real probe.

A small HTTP server of the test plays the apps' monitoring: it answers for each host as that host's app
behaves, judged from which release the host's stable path names right now, so a host turns bad exactly when
the upgrade switches it to the new release and good again when it is switched back.
"""

import json
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from helpers import (HOOKS, App, failed_tasks, hook_lines, http_json, read_ledger, run_fleet_playbook, run_playbook,
                     task_results)

from ansible_collections.oxzep7.python.plugins.module_utils._layout import Layout

# Prometheus text format as an app's client library writes it; the probe watches /orders' error ratio.
METRICS = """# HELP demo_http_error_ratio Share of requests answered with a 5xx over the last minute.
# TYPE demo_http_error_ratio gauge
demo_http_error_ratio{handler="/health"} 0.0
demo_http_error_ratio{handler="/orders"} %s
# HELP demo_http_requests_total Requests served.
# TYPE demo_http_requests_total counter
demo_http_requests_total{handler="/orders",code="200"} 1027.0
"""


class Monitoring(ThreadingHTTPServer):
    """``/metrics/<host>``: the error ratio of ``<host>``'s app, 0.25 while a host named in ``bad`` runs its new
    release (the stable path names a ``-cp312`` release), else 0. ``/health/<host>``: 200, except that on the new
    release only the first request is answered 200 and every later one 500 (an app that passes its health check
    and breaks a moment later)."""

    daemon_threads = True

    def __init__(self, stables):
        self.stables = stables  # host -> stable path
        self.bad = set()
        self.health_seen = {}
        super().__init__(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def url(self, what):
        return "http://127.0.0.1:%d/%s/{{ inventory_hostname }}" % (self.server_address[1], what)

    def on_new_release(self, host):
        return (Layout(self.stables[host]).current_release() or "").endswith("-cp312")


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        _root, what, host = self.path.split("/")
        new = self.server.on_new_release(host)
        if what == "metrics":
            status, body = 200, METRICS % ("0.25" if new and host in self.server.bad else "0.0")
        else:
            seen = self.server.health_seen[host] = self.server.health_seen.get(host, 0) + 1 if new else 0
            status, body = (500 if seen > 1 else 200), "{}"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


def _report(reports, run_id):
    with open(os.path.join(reports, run_id, "report.json")) as fh:
        return json.load(fh)


def test_bake_rolls_back_the_whole_batch_when_one_host_fails_then_a_good_bake_goes_on(
        tmp_path, old_python, pyenv_root, wheelhouse):
    apps = {}
    try:
        for name in ("web-1", "web-2"):
            os.makedirs(str(tmp_path / name))
            apps[name] = App(str(tmp_path / name), old_python, wheelhouse)
        # hooks that log what they got and where the stable path pointed then
        record = os.path.join(HOOKS, "record.yml")
        logs = dict((name, str(tmp_path / name / "hooks.jsonl")) for name in apps)
        hosts = dict((name, app.host_vars(pyenv_root, wheelhouse, hook_log=logs[name], hook_stable=app.stable,
                                          upgrade_hooks=dict(before_rollback=[record], on_rollback=[record])))
                     for name, app in apps.items())
        # the next batch's host: a venv the stopped run must not touch
        later = str(tmp_path / "web-3" / "venv")
        subprocess.run([old_python, "-m", "venv", later], check=True)
        hosts["web-3"] = dict(hosts["web-1"], upgrade_venvs=[dict(path=later)],
                              upgrade_state_dir=str(tmp_path / "web-3" / "state"))
        watch = Monitoring(dict((name, app.stable) for name, app in apps.items()))
        watch.bad.add("web-2")
        reports = str(tmp_path / "reports")
        probe = dict(interval=1, timeout=5, metrics=dict(url=watch.url("metrics"), name="demo_http_error_ratio",
                                                         labels={"handler": "/orders"}, max=0.05))
        run = dict(python_upgrade_canary_count=0, python_upgrade_serial=[2, 1], python_upgrade_report_dir=reports,
                   python_upgrade_bake_seconds=3, python_upgrade_bake_probe=probe)

        # web-2 turns bad on its new release: the whole batch goes back, and the budget (0) stops the run
        rc, stats, plays = run_fleet_playbook("upgrade.yml", str(tmp_path), hosts,
                                              extra_vars=dict(run, python_upgrade_run_id="k1"))
        assert rc != 0 and stats["web-1"]["failures"] == 1 and stats["web-2"]["failures"] == 1, failed_tasks(plays)
        for name, app in apps.items():
            layout = Layout(app.stable)
            assert layout.current_release().endswith("-adopted"), name
            assert [r["id"] for r in layout.releases()] == [layout.current_release()], "the baked release is gone"
            assert http_json("http://127.0.0.1:%d/health" % app.port)["python"].startswith("3.9."), name
            upgrade = [r for r in read_ledger(app.state_dir) if r["step"] == "upgrade"]
            assert [u["result"] for u in upgrade] == ["upgraded", "rolled_back"], upgrade
            assert upgrade[-1]["reason"].startswith("bake probe failed on web-2: the probe failed after"), upgrade[-1]
            assert 'demo_http_error_ratio{handler="/orders"} is 0.25, above the ceiling 0.05' in upgrade[-1]["reason"]
            [rollback] = [r for r in read_ledger(app.state_dir) if r["step"] == "rollback"]
            assert rollback["to"] == layout.current_release() and rollback["reason"] == upgrade[-1]["reason"]
            # before_rollback while the stable path (and so the services) still had the baked release, on_rollback
            # once the old one was back; both with the upgrade's meanings of the releases and versions
            drain, back = hook_lines(logs[name])
            assert (drain["stage"], back["stage"]) == ("before_rollback", "on_rollback")
            assert drain["live"].endswith("/k1-cp312") and back["live"].endswith("/" + layout.current_release())
            for hook in (drain, back):
                assert hook["release"] == "k1-cp312" and hook["previous_release"] == layout.current_release(), hook
                assert hook["from_version"].startswith("3.9.") and hook["to_version"].startswith("3.12."), hook
                assert hook["reason"] == upgrade[-1]["reason"] and hook["run_id"] == "k1", hook
        assert Layout(later).kind() == "plain" and "web-3" not in stats
        report = _report(reports, "k1")
        assert [(h["host"], h["status"]) for h in report["hosts"]] == [
            ("web-1", "rolled_back"), ("web-2", "rolled_back"), ("web-3", "pending")], report
        assert report["status"] == "stopped"
        assert "bake probe failed on web-2" in report["hosts"][0]["venvs"][0]["reason"]
        with open(os.path.join(reports, "k1", "report.md")) as fh:
            assert "| web-1 | rolled_back |" in fh.read()

        # fixed: the batch again, every probe passes and both hosts stay on their new release
        watch.bad.clear()
        del hosts["web-3"]
        rc, stats, plays = run_fleet_playbook("upgrade.yml", str(tmp_path), hosts,
                                              extra_vars=dict(run, python_upgrade_run_id="k2"))
        assert rc == 0, failed_tasks(plays)
        [baked] = task_results(plays, "Watch the batch with the bake probe, seconds 3", "web-1")
        assert baked["passed"] and baked["probes"] >= 3, baked
        for name, app in apps.items():
            assert Layout(app.stable).current_release() == "k2-cp312", name
            assert http_json("http://127.0.0.1:%d/health" % app.port)["python"].startswith("3.12."), name
        report = _report(reports, "k2")
        assert report["status"] == "completed" and report["totals"]["upgraded"] == 2, report
    finally:
        for app in apps.values():
            app.stop()


def test_soak_failure_after_a_passed_health_check_rolls_back(app, pyenv_root, wheelhouse):
    watch = Monitoring({"app": app.stable})
    entry = app.venv_entry(health_url=watch.url("health"), soak_seconds=4)
    host_vars = app.host_vars(pyenv_root, wheelhouse, upgrade_venvs=[entry])
    rc, stats, _plays = run_playbook("upgrade.yml", app.base, host_vars, extra_vars=dict(python_upgrade_run_id="s1"))
    assert rc != 0 and stats["rescued"] == 1, stats
    assert Layout(app.stable).current_release().endswith("-adopted")
    assert http_json("http://127.0.0.1:%d/health" % app.port)["python"].startswith("3.9.")
    upgrade = [r for r in read_ledger(app.state_dir) if r["step"] == "upgrade"]
    assert [u["result"] for u in upgrade] == ["rolled_back"], upgrade
    reason = upgrade[0]["reason"]
    assert reason.startswith("Soak, the health checked for soak_seconds") and "answered HTTP 500, not 200" in reason

"""Fleet runs on six real containers (molecule scenario ``fleet``), checked with testinfra.

One fleet, brought up once by molecule (create, prepare), then several runs of
``playbooks/upgrade.yml`` through ``scripts/molecule converge -s fleet -- <options>``, in order:

1. a failure budget of 0: the canary, then batch 1, then batch 2 where oxzep7-fleet-4 fails;
   the run stops there and the last batch is untouched. HAProxy on oxzep7-fleet-lb balances over
   the six apps, and this run uses the example drain hooks (playbooks/hooks/haproxy-*.yml): a probe
   through the balancer every 20 ms for the whole run, while four hosts restart and one of them is
   rolled back, sees no failed request;
2. a budget of 50% and a maintenance window that closes during batch 2 (the test rewrites the
   windows file then): the run continues past the failing host, finishes that batch and
   pauses, the last batch still pending;
3. two concurrent runs on oxzep7-fleet-5: the second fails fast on the lock; the first upgrades oxzep7-fleet-5
   and -6 in one batch with a bake (issue 15), whose probe fails on -6 alone after both passed their health
   checks: both are rolled back, drained from HAProxy before that restart too (before_rollback hooks), with
   each unit's journal in the report and the rollbacks told to a webhook receiver on 127.0.0.1;
4. a run on oxzep7-fleet-6 whose controller is killed with SIGKILL while the module on the host
   verifies the new release;
5. the same command again in an open window: it takes the killed run's lock over, the killed
   run's module stops and removes its release, and everything left is upgraded (oxzep7-fleet-5 and -6),
   the bad host rolled back again; the report shows every host once with its final state.
"""

import datetime
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
import testinfra

from support import HAPROXY_SHOW_STAT, ROOT, WHEELHOUSE, Probe, Receiver, haproxy_servers

FLEET = ["oxzep7-fleet-%d" % i for i in range(1, 7)]
BAD = "oxzep7-fleet-4"
PORTS = dict((name, 18110 + i) for i, name in enumerate(FLEET, 1))
SERIAL = [1, 2, "100%"]
BALANCER = "oxzep7-fleet-lb"  # HAProxy, its frontend on 127.0.0.1:18100, backend "app" (molecule/fleet)
FRONTEND = "http://127.0.0.1:18100/health"
# the example hooks shipped with the collection, relative to the playbook's directory (playbooks/)
DRAIN, ENABLE = ["hooks/haproxy-drain.yml"], ["hooks/haproxy-enable.yml"]
DRAIN_HOOKS = dict(upgrade_hooks=dict(after_switch=DRAIN, after_health=ENABLE, on_rollback=ENABLE))
# run 3's bake: the batch of oxzep7-fleet-5 and -6, whose probe fails on -6 alone, where the marker file exists
BAKED = ["oxzep7-fleet-5", "oxzep7-fleet-6"]
BAKE_BAD, BAKE_MARKER = "oxzep7-fleet-6", "/run/oxzep7-bake-fails"
BAKE_PROBE = dict(interval=1, timeout=10, command=["test", "!", "-e", BAKE_MARKER])


def host(name):
    return testinfra.get_host("podman://" + name)


def ledger(name):
    out = host(name).run("cat /var/lib/oxzep7-python/*/ledger.jsonl")
    return [json.loads(line) for line in out.stdout.splitlines()] if out.rc == 0 else []


def upgrades(name):
    return [r for r in ledger(name) if r["step"] == "upgrade"]


def health(name):
    return json.loads(host(name).check_output(
        "python3 -c \"import urllib.request as u; print(u.urlopen('http://127.0.0.1:%d/health').read().decode())\""
        % PORTS[name]))


def frontend_python():
    """The Python version of the app that answered through the balancer."""
    with urllib.request.urlopen(FRONTEND, timeout=5) as resp:
        return json.loads(resp.read().decode())["python"]


def balancer_servers():
    """HAProxy's servers of the backend ``app``: name -> its ``show stat`` row."""
    return haproxy_servers(host(BALANCER).check_output("python3 -c %s /run/haproxy/admin.sock", HAPROXY_SHOW_STAT),
                           "app")


def untouched(name):
    h = host(name)
    return (not h.file("/srv/app/venv").is_symlink and not h.file("/srv/app/.venv.releases").exists
            and health(name)["python"].startswith("3.9."))


class Fleet:
    """Runs scripts/molecule for the fleet scenario with one wheelhouse server for all runs."""

    def __init__(self, pyenv_root, reports):
        self.reports = reports
        self.env = dict(os.environ, OXZEP7_PYENV_ROOT=pyenv_root, ANSIBLE_NOCOLOR="1", NO_COLOR="1")
        self.server = None

    def start(self):
        import socket
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                                        "-d", WHEELHOUSE], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.env["OXZEP7_WHEELHOUSE_URL"] = "http://127.0.0.1:%d/" % port
        for attempt in range(100):
            try:
                urllib.request.urlopen(self.env["OXZEP7_WHEELHOUSE_URL"], timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        for step in ("destroy", "create", "prepare"):
            proc = self.molecule(step)
            assert proc.returncode == 0, proc.stdout[-6000:]

    def stop(self):
        self.molecule("destroy")
        if self.server:
            self.server.terminate()
            self.server.wait()

    def argv(self, step, extra=None, limit=None):
        argv = [os.path.join(ROOT, "scripts", "molecule"), step, "-s", "fleet"]
        if step == "converge":
            argv += ["--", "-e", json.dumps(dict(dict(python_upgrade_report_dir=self.reports,
                                                      python_upgrade_serial=SERIAL), **(extra or {})))]
            argv += ["--limit", limit] if limit else []
        return argv

    def molecule(self, step, extra=None, limit=None):
        return subprocess.run(self.argv(step, extra, limit), env=self.env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, universal_newlines=True, check=False, cwd=ROOT)

    def start_run(self, extra=None, limit=None):
        return subprocess.Popen(self.argv("converge", extra, limit), env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, universal_newlines=True, cwd=ROOT, start_new_session=True)

    def report(self, run_id):
        with open(os.path.join(self.reports, run_id, "report.json")) as fh:
            return json.load(fh)


@pytest.fixture(scope="module")
def fleet(pyenv_root, tmp_path_factory):
    live = Fleet(pyenv_root, str(tmp_path_factory.mktemp("reports")))
    try:
        live.start()
        yield live
    finally:
        live.stop()


def gated(go):
    """Options for a run on oxzep7-fleet-5 or -6 whose smoke command waits until the file ``go`` exists."""
    smoke = ["python", "-c", "import os, time\nwhile not os.path.exists(%r):\n    time.sleep(0.5)" % go]
    return dict(upgrade_venvs=[dict(path="/srv/app/venv", services=["demoapp.service"], imports=["demoapp"],
                                    smoke_commands=[smoke], health_url="http://127.0.0.1:{{ app_port }}/health")])


def statuses(report):
    return dict((h["host"], h["status"]) for h in report["hosts"])


def test_fleet_runs(fleet):
    # 1. failure budget 0: stops after the batch where the bad host fails. With the drain hooks, behind
    #    HAProxy, probed through it every 20 ms from before the run starts to after it ends.
    probe = Probe(frontend_python, interval=0.02)
    probe.start()
    try:
        run = fleet.molecule("converge", dict(DRAIN_HOOKS, python_upgrade_run_id="run1",
                                              python_upgrade_max_fail_percentage=0))
    finally:
        probe.stop()
    assert run.returncode != 0, run.stdout[-4000:]
    assert [r["result"] for r in upgrades("oxzep7-fleet-1")] == ["upgraded"]
    canary_done = upgrades("oxzep7-fleet-1")[0]["time"]
    for name in FLEET[1:4]:  # the canary finished before any other host started
        assert ledger(name)[0]["step"] == "rebuild" and ledger(name)[0]["time"] >= canary_done
    assert [r["result"] for r in upgrades(BAD)] == ["rolled_back"]
    assert "No module named 'imp'" in upgrades(BAD)[0]["reason"]
    assert health(BAD)["python"].startswith("3.9.")
    assert untouched("oxzep7-fleet-5") and untouched("oxzep7-fleet-6")
    report = fleet.report("run1")
    assert report["status"] == "stopped"
    # the rollback's evidence: the failing health check is in the unit's journal, kept in the report
    [bad] = [v for h in report["hosts"] if h["host"] == BAD for v in h["venvs"]]
    [journal] = [f for f in bad["evidence"] if f.endswith(".journal.demoapp.service.log")]
    with open(os.path.join(fleet.reports, "run1", journal)) as fh:
        assert "demoapp" in fh.read()
    assert statuses(report) == {"oxzep7-fleet-1": "upgraded", "oxzep7-fleet-2": "upgraded",
                                "oxzep7-fleet-3": "upgraded", BAD: "rolled_back",
                                "oxzep7-fleet-5": "pending", "oxzep7-fleet-6": "pending"}
    # no request failed while hosts 1 to 4 restarted (the bad one twice: on 3.12, then rolled back)
    calls = probe.summary()
    assert calls["failed"] == 0 and calls["calls"] >= 1000, (calls, probe.errors())
    assert sorted(set(v.rsplit(".", 1)[0] for v in probe.values())) == ["3.12", "3.9"], probe.values()
    # HAProxy took each restarted host out (drain, then maintenance) once and put it back once
    journal = host(BALANCER).check_output("journalctl --unit haproxy.service --no-pager --output cat")
    for name in FLEET:
        count = 1 if name in FLEET[:4] else 0
        assert journal.count("Server app/%s is going DOWN for maintenance" % name) == count, journal[-4000:]
        assert journal.count("Server app/%s is UP/READY (leaving forced maintenance)" % name) == count, journal[-4000:]
    servers = balancer_servers()
    assert dict((n, s["status"]) for n, s in servers.items()) == dict((n, "UP") for n in FLEET)
    # HAProxy never sent a request to a restarting host: nothing to retry or redispatch (without the hooks,
    # the bench's fleet upgrade had 61 redispatches)
    assert [(n, s["wretr"], s["wredis"]) for n, s in servers.items() if s["wretr"] != "0" or s["wredis"] != "0"] == []

    # 2. budget 50%: the run goes on past the bad host. The window (in a file the gate reads
    #    before each batch) is open when the run starts; once batch 2 is under way, the test
    #    rewrites it to close now, so batch 3 never starts: paused, not failed
    windows_file = os.path.join(fleet.reports, "windows.json")

    def write_window(end):
        now = datetime.datetime.now(datetime.timezone.utc)
        with open(windows_file + ".tmp", "w") as fh:
            json.dump([dict(start=(now - datetime.timedelta(minutes=5)).strftime("%H:%M:%S"),
                            end=end(now).strftime("%H:%M:%S"), timezone="UTC")], fh)
        os.replace(windows_file + ".tmp", windows_file)

    write_window(lambda now: now + datetime.timedelta(minutes=30))
    paused = fleet.start_run(dict(python_upgrade_run_id="run2", python_upgrade_max_fail_percentage=50,
                                  python_upgrade_windows_file=windows_file, python_upgrade_batch_seconds=5))
    deadline = time.time() + 600
    while not [r for r in ledger(BAD) if r.get("run_id") == "run2"]:  # batch 2 has started on the bad host
        assert time.time() < deadline and paused.poll() is None, "batch 2 never started"
        time.sleep(1)
    write_window(lambda now: now)  # the window closes now, during batch 2
    out = paused.communicate()[0]
    assert "Paused: " in out, out[-4000:]
    assert [r["result"] for r in upgrades(BAD)] == ["rolled_back", "rolled_back"]  # batch 2 ran to its end
    assert untouched("oxzep7-fleet-5") and untouched("oxzep7-fleet-6")
    report = fleet.report("run2")
    assert report["status"] == "paused" and report["window"]["state"] in ("closed", "closing")
    assert statuses(report)["oxzep7-fleet-5"] == statuses(report)["oxzep7-fleet-6"] == "pending"
    assert statuses(report)["oxzep7-fleet-2"] == "already_current" and statuses(report)[BAD] == "rolled_back"

    # 3. two concurrent runs on oxzep7-fleet-5, the first of them with a bake that rolls its batch back. The first
    #    (run3a) upgrades oxzep7-fleet-5 and -6 in one batch and holds fleet-5's lock until the test lets it go
    #    (its smoke command waits for a file, bounded by the verify's command_timeout), not for a fixed time:
    #    however long the second takes on a busy machine, it meets the lock, and the test checks that it did
    #    (lock file, first still running). Once both hosts passed their health checks, the bake probe fails on
    #    oxzep7-fleet-6 alone, where a marker file exists: both hosts go back to their old release, each drained
    #    from HAProxy before that restart too (before_rollback), and a webhook receiver on the controller hears it.
    go = "/run/oxzep7-run3a-go"
    held = gated(go)
    host(BAKE_BAD).check_output("touch %s", BAKE_MARKER)
    hook = Receiver()
    probe = Probe(frontend_python, interval=0.02)
    probe.start()
    first = fleet.start_run(dict(held, python_upgrade_run_id="run3a", python_upgrade_serial=[2],
                                 python_upgrade_bake_seconds=3, python_upgrade_bake_probe=BAKE_PROBE,
                                 upgrade_hooks=dict(DRAIN_HOOKS["upgrade_hooks"], before_rollback=DRAIN),
                                 python_upgrade_notify=[hook.url("json")]), limit=",".join(BAKED))
    try:
        deadline = time.time() + 300
        while not host("oxzep7-fleet-5").run("cat /var/lib/oxzep7-python/*/lock").stdout.count("run3a"):
            assert time.time() < deadline and first.poll() is None, "the first run never took the lock"
            time.sleep(1)
        second = fleet.molecule("converge", dict(held, python_upgrade_run_id="run3b"), limit="oxzep7-fleet-5")
        lock = host("oxzep7-fleet-5").run("cat /var/lib/oxzep7-python/*/lock").stdout
        assert second.returncode != 0 and "is locked by run run3a" in second.stdout, second.stdout[-4000:]
        assert first.poll() is None and "run3a" in lock, lock  # it failed while the first held the lock
    finally:
        for name in BAKED:
            host(name).run("touch %s" % go)
        out = first.communicate()[0]
        probe.stop()
        hook.close()
    assert first.returncode != 0, out[-4000:]  # the bake failed both hosts
    assert not [r for r in ledger("oxzep7-fleet-5") if r.get("run_id") == "run3b"]
    reason = "bake probe failed on %s: the probe failed after" % BAKE_BAD
    for name in BAKED:
        h = host(name)
        assert [(r["run_id"], r["result"]) for r in upgrades(name)] == [("run3a", "upgraded"), ("run3a", "rolled_back")]
        assert upgrades(name)[1]["reason"].startswith(reason), upgrades(name)[1]
        assert "test ! -e %s exited with 1" % BAKE_MARKER in upgrades(name)[1]["reason"]
        assert h.file("/srv/app/venv").linked_to.endswith("-adopted")  # the old release, live again
        assert not h.file("/srv/app/.venv.releases/run3a-cp312").exists  # the baked release is gone
        assert h.service("demoapp.service").is_running and health(name)["python"].startswith("3.9.")
        assert not h.run("ls /var/lib/oxzep7-python/*/lock").stdout
    report = fleet.report("run3a")
    assert report["status"] == "completed_with_failures" and statuses(report) == dict.fromkeys(BAKED, "rolled_back")
    for row in report["hosts"]:
        [venv] = row["venvs"]
        assert venv["reason"].startswith(reason), venv
        # the evidence: each unit's journal, taken before the rollback restarted it (one restart so far: the upgrade's)
        [journal] = [f for f in venv["evidence"] if f.endswith(".journal.demoapp.service.log")]
        assert journal.startswith("hosts/%s/" % row["host"]), journal
        with open(os.path.join(fleet.reports, "run3a", journal)) as fh:
            assert fh.read().count("Started demoapp.service") == 2, journal
    with open(os.path.join(fleet.reports, "run3a", "report.md")) as fh:
        markdown = fh.read()
    assert "| oxzep7-fleet-5 | rolled_back |" in markdown and "| %s | rolled_back |" % BAKE_BAD in markdown
    assert reason in markdown
    # the webhooks, in order: the run's start, each host's rollback as it happened, the batch, the run's end
    messages = hook.bodies("json")
    assert [m["event"] for m in messages] == ["run_start", "rollback", "rollback", "batch_done", "run_end"], messages
    rolled = [m["rollback"] for m in messages if m["event"] == "rollback"]
    assert sorted(r["host"] for r in rolled) == BAKED and all(r["reason"].startswith(reason) for r in rolled), rolled
    assert messages[-1]["status"] == "completed_with_failures"
    assert statuses(messages[-1]) == dict.fromkeys(BAKED, "rolled_back")
    # each host was drained before both of its restarts (after_switch, before_rollback) and put back after them,
    # so HAProxy never sent a request to it while it restarted; no request failed
    journal = host(BALANCER).check_output("journalctl --unit haproxy.service --no-pager --output cat")
    servers = balancer_servers()
    for name in BAKED:
        assert journal.count("Server app/%s is going DOWN for maintenance" % name) == 2, journal[-4000:]
        assert journal.count("Server app/%s is UP/READY (leaving forced maintenance)" % name) == 2, journal[-4000:]
        assert (servers[name]["status"], servers[name]["wretr"], servers[name]["wredis"]) == ("UP", "0", "0")
    calls = probe.summary()
    assert calls["failed"] == 0 and calls["calls"] >= 100, (calls, probe.errors())
    host(BAKE_BAD).check_output("rm %s", BAKE_MARKER)

    # 4. SIGKILL of the controller while venv_upgrade works on oxzep7-fleet-6. The module on the host goes
    #    on alone: its smoke command waits for a file the test writes only in part 5, so it is still
    #    verifying when the next run reaches the host.
    go4 = "/run/oxzep7-run4-go"
    killed = fleet.start_run(dict(gated(go4), python_upgrade_run_id="run4"), limit="oxzep7-fleet-6")
    deadline = time.time() + 300
    while '"built"' not in host("oxzep7-fleet-6").run("cat /srv/app/.venv.releases/*.release.json").stdout:
        assert time.time() < deadline and killed.poll() is None, "the rebuild never ended"
        time.sleep(0.2)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    assert host("oxzep7-fleet-6").run("cat /var/lib/oxzep7-python/*/lock").stdout.count("run4")
    assert health("oxzep7-fleet-6")["python"].startswith("3.9.")  # the live venv was never touched

    # 5. the same command again, window open: everything left moves; the report has every host once.
    #    On oxzep7-fleet-6 this run takes the dead run's lock over and waits for the killed run's module
    #    (the host-side work lock); once let go, that module stops at its next write and removes its
    #    release, and this run upgrades the host.
    resumed = fleet.start_run(dict(python_upgrade_run_id="run5", python_upgrade_max_fail_percentage=50))
    try:
        deadline = time.time() + 900
        while not host("oxzep7-fleet-6").run("cat /var/lib/oxzep7-python/*/lock").stdout.count("run5"):
            assert time.time() < deadline and resumed.poll() is None, "run5 never took the lock over"
            time.sleep(1)
    finally:
        host("oxzep7-fleet-6").run("touch %s" % go4)
    out = resumed.communicate()[0]
    assert resumed.returncode != 0, out[-4000:]  # the bad host failed again, within the budget
    report = fleet.report("run5")
    assert report["status"] == "completed_with_failures"
    assert sorted(h["host"] for h in report["hosts"]) == FLEET
    assert statuses(report) == {"oxzep7-fleet-1": "already_current", "oxzep7-fleet-2": "already_current",
                                "oxzep7-fleet-3": "already_current", BAD: "rolled_back",
                                "oxzep7-fleet-5": "upgraded", "oxzep7-fleet-6": "upgraded"}
    for name in FLEET:
        h = host(name)
        assert h.service("demoapp.service").is_running
        assert health(name)["python"].startswith("3.9." if name == BAD else "3.12.")
    # run 5 had no drain hooks: HAProxy's own checks bring the hosts it restarted back (rise 2, 1 s apart)
    deadline = time.time() + 30
    while set(s["status"] for s in balancer_servers().values()) != {"UP"} and time.time() < deadline:
        time.sleep(1)
    assert dict((n, s["status"]) for n, s in balancer_servers().items()) == dict((n, "UP") for n in FLEET)
    six = host("oxzep7-fleet-6")
    releases = sorted(six.check_output("find /srv/app/.venv.releases -mindepth 1 -maxdepth 1 -type d "
                                       "-printf '%f\\n'").split())
    assert len(releases) == 2 and releases[1] == "run5-cp312" and releases[0].endswith("-adopted"), releases
    assert six.file("/srv/app/venv").linked_to.endswith("/run5-cp312")
    assert "run4" not in six.check_output("ls -a /srv/app/.venv.releases")  # the unfinished release is gone
    # it stopped because run5 took over (no verify record of run4), not because its smoke command timed out
    assert [r["step"] for r in ledger("oxzep7-fleet-6") if r.get("run_id") == "run4"] == ["rebuild"]
    assert not six.run("ls /var/lib/oxzep7-python/*/lock").stdout
    with open(os.path.join(fleet.reports, "run5", "report.md")) as fh:
        markdown = fh.read()
    assert "Status: **completed_with_failures**" in markdown and "No module named 'imp'" in markdown
    assert os.path.exists(os.path.join(fleet.reports, "run5", "report.html"))

"""Run real ansible-playbook against localhost and read its JSON results."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

from support import make_app_venv

from ansible_collections.oxzep7.python.plugins.module_utils._snapshot import wait_written

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
HOOKS = os.path.join(ROOT, "tests", "integration", "hooks")  # task files the tests use as hooks


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_module(module, args, check=False):
    """Run one module of the collection on localhost with ``ansible -vvv`` (``--check`` with ``check``):
    the CompletedProcess (stdout and stderr together, text)."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".cache", "collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0")
    return subprocess.run([os.path.join(BIN, "ansible"), "localhost", "-vvv", "-m", "oxzep7.python." + module,
                           "-a", json.dumps(args), "-e", "ansible_python_interpreter=" + os.path.join(BIN, "python")]
                          + (["--check"] if check else []),
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          check=False)


def module_result(proc):
    """The result dict that ``ansible`` printed for localhost in :func:`run_module`'s output.

    :raises AssertionError: when the output holds none, with its end.
    """
    marker = proc.stdout.find("localhost | ")
    start = proc.stdout.find("{", marker) if marker >= 0 else -1
    assert start >= 0, proc.stdout[-3000:]
    return json.JSONDecoder().raw_decode(proc.stdout[start:])[0]


def run_playbook(playbook, tmp, host_vars, check=False, extra_vars=None, timeout=None, bin_dir=None):
    """Run ``playbook`` for one local host ``app`` in group python_fleet.

    :returns: ``(rc, stats, plays)`` from the json callback: stats is the host's
        counters (ok, changed, failures, rescued...), plays the raw plays list.
    """
    rc, stats, plays = run_fleet_playbook(playbook, tmp, {"app": host_vars}, check=check, extra_vars=extra_vars,
                                          timeout=timeout, bin_dir=bin_dir)
    return rc, stats.get("app", {}), plays


def _playbook_command(playbook, tmp, hosts, check=False, extra_vars=None, limit=None, bin_dir=None):
    """``(argv, env)`` of ansible-playbook for hosts ``hosts`` (name -> host vars) in group python_fleet, with
    an inventory file of its own in ``tmp``; ``limit``: ansible-playbook's ``--limit``; ``bin_dir``: the
    ``bin`` of another ansible-core's venv (default: the tool venv's)."""
    bin_dir = bin_dir or BIN
    fd, inventory = tempfile.mkstemp(prefix="inventory-", suffix=".json", dir=tmp)
    local = dict(ansible_connection="local", ansible_python_interpreter=sys.executable)
    fleet = dict((name, dict(local, **v)) for name, v in hosts.items())
    with os.fdopen(fd, "w") as fh:
        json.dump({"python_fleet": {"hosts": fleet}}, fh)
    # a collection playbook by FQCN (oxzep7.python.upgrade), a file of playbooks/, or a test playbook's path
    if not playbook.endswith(".yml"):
        target = playbook
    else:
        target = os.path.join(ROOT, "playbooks", playbook)  # an absolute path stays as it is
    argv = [os.path.join(bin_dir, "ansible-playbook"), "-i", inventory, target]
    if check:
        argv.append("--check")
    if limit:
        argv += ["--limit", limit]
    if extra_vars:
        argv += ["-e", json.dumps(extra_vars)]
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".cache", "collections"),
               ANSIBLE_STDOUT_CALLBACK="test_results", ANSIBLE_NOCOLOR="1",
               ANSIBLE_CALLBACK_PLUGINS=os.path.join(os.path.dirname(os.path.abspath(__file__)), "callback_plugins"),
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_DEPRECATION_WARNINGS="0",
               PATH=bin_dir + os.pathsep + BIN + os.pathsep + os.environ.get("PATH", ""), PWD=tmp)
    return argv, env


def _results(rc, stdout, stderr):
    try:
        out = json.loads(stdout[stdout.index("{"):])
    except ValueError:
        raise AssertionError("no JSON from ansible-playbook (rc=%s): %s\n%s" % (rc, stdout, stderr))
    return rc, out["stats"], out["plays"]


def run_fleet_playbook(playbook, tmp, hosts, check=False, extra_vars=None, timeout=None, limit=None, bin_dir=None):
    """Run ``playbook`` for hosts ``hosts`` (name -> host vars) in group python_fleet; local unless
    their vars say otherwise (``ansible_connection``). ``timeout``: seconds, or None; ``limit``:
    ansible-playbook's ``--limit``.

    :returns: ``(rc, stats, plays)``: stats maps each host to its counters.
    """
    return run_fleet_playbook_output(playbook, tmp, hosts, check, extra_vars, timeout, limit, bin_dir)[:3]


def run_fleet_playbook_output(playbook, tmp, hosts, check=False, extra_vars=None, timeout=None, limit=None,
                              bin_dir=None):
    """:func:`run_fleet_playbook`, also returning everything ansible-playbook printed:
    ``(rc, stats, plays, output)``, output being its stdout and stderr (str)."""
    argv, env = _playbook_command(playbook, tmp, hosts, check, extra_vars, limit, bin_dir)
    proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          check=False, cwd=tmp, timeout=timeout)
    return _results(proc.returncode, proc.stdout, proc.stderr) + (proc.stdout + proc.stderr,)


class Playbook:
    """``ansible-playbook`` for one local host ``app`` started in the background, in a session of its own."""

    def __init__(self, playbook, tmp, host_vars, extra_vars=None):
        argv, env = _playbook_command(playbook, tmp, {"app": host_vars}, extra_vars=extra_vars)
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     universal_newlines=True, cwd=tmp, start_new_session=True)

    def finish(self, timeout=None):
        """Wait for it; return ``(rc, stats of app, plays)`` like :func:`run_playbook`."""
        out, err = self.proc.communicate(timeout=timeout)
        rc, stats, plays = _results(self.proc.returncode, out, err)
        return rc, stats.get("app", {}), plays

    def descendants(self):
        """Pids of every process below ansible-playbook now: its workers (each in a session of its own)
        and their modules and commands."""
        parents = {}
        for name in os.listdir("/proc"):
            try:
                with open("/proc/%s/stat" % name) as fh:
                    parents[int(name)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError):
                continue
        found, grown = {self.proc.pid}, True
        while grown:
            new = set(pid for pid, parent in parents.items() if parent in found) - found
            found |= new
            grown = bool(new)
        return sorted(found - {self.proc.pid})

    def kill(self):
        """SIGKILL the ansible-playbook process alone (its workers and modules live on) and reap it."""
        self.proc.kill()
        self.proc.communicate()


def task_results(plays, name, host="app"):
    """Return ``host``'s results of every task named ``name`` (with or without its role prefix)."""
    found = []
    for play in plays:
        for task in play["tasks"]:
            full = task["task"]["name"]
            if (full == name or full.endswith(" : " + name)) and host in task["hosts"]:
                found.append(task["hosts"][host])
    return found


def hook_lines(path):
    """What the test hook ``hooks/record.yml`` logged to ``path`` (its ``hook_log``): one dict per hook that ran,
    ``upgrade_hook`` plus ``live`` (where the stable path pointed then, or ``plain``); [] when none ran."""
    if not os.path.exists(path):
        return []
    with open(path) as fh:
        return [json.loads(line) for line in fh]


def settle_snapshots(backup_dir, timeout=300):
    """Wait until no snapshot writer holds a ``.partial`` under ``backup_dir`` (venv_upgrade's switch does not
    wait for the archive, and its writer records the snapshot when it is done).

    :raises AssertionError: naming a snapshot still being written after ``timeout`` seconds.
    """
    for slug in sorted(os.listdir(backup_dir)) if os.path.isdir(backup_dir) else []:
        root = os.path.join(backup_dir, slug)
        for name in sorted(os.listdir(root)) if os.path.isdir(root) else []:
            if name.endswith(".partial"):
                assert wait_written(os.path.join(root, name), timeout), "%s is still being written" % name


def read_ledger(state_dir):
    records = []
    for top, _dirs, files in os.walk(state_dir):
        if "ledger.jsonl" in files:
            with open(os.path.join(top, "ledger.jsonl")) as fh:
                records += [json.loads(line) for line in fh]
    return records


class ImportProbe(threading.Thread):
    """Executes ``<stable>/bin/python -c 'import <module>'`` in a loop and counts failures."""

    def __init__(self, stable, module="demoapp"):
        super(ImportProbe, self).__init__(daemon=True)
        self.argv = [os.path.join(stable, "bin", "python"), "-c",
                     "import sys, %s; print('%%d.%%d' %% sys.version_info[:2])" % module]
        self.runs = self.failures = 0
        self.errors = []
        self.versions = []  # the X.Y that served each successful run, in order
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            proc = subprocess.run(self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  universal_newlines=True, check=False)
            self.runs += 1
            if proc.returncode == 0:
                self.versions.append(proc.stdout.strip())
            else:
                self.failures += 1
                self.errors.append(proc.stdout[-500:])

    def stop(self):
        self._stop_event.set()
        self.join(timeout=30)


def http_json(url, timeout=5):
    from urllib.request import urlopen
    deadline = time.time() + timeout
    while True:
        try:
            return json.loads(urlopen(url, timeout=2).read().decode())
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


class App:
    """A live app: venv at ``stable`` on the old interpreter, served on ``port``."""

    def __init__(self, base, old_python, wheelhouse, requirements="requirements.txt"):
        self.base = base
        self.stable = os.path.join(base, "srv", "app", "venv")
        os.makedirs(os.path.dirname(self.stable))
        make_app_venv(self.stable, old_python, wheelhouse, requirements)
        self.port = free_port()
        self.pidfile = os.path.join(base, "app.pid")
        self.state_dir = os.path.join(base, "state")
        self.backup_dir = os.path.join(base, "backups")
        subprocess.run(self.service_argv("start"), check=True)

    def service_argv(self, action):
        return [os.path.join(self.stable, "bin", "python"), "-m", "demoapp.service", action,
                str(self.port), self.pidfile]

    def venv_entry(self, **extra):
        entry = dict(path=self.stable, imports=["demoapp", "flask", "sqlalchemy", "pydantic", "requests"],
                     smoke_commands=[["python", "-m", "demoapp.selftest"]],
                     restart_commands=[self.service_argv("restart")],
                     health_url="http://127.0.0.1:%d/health" % self.port)
        entry.update(extra)
        return entry

    def host_vars(self, pyenv_root, wheelhouse, **extra):
        hv = dict(upgrade_python_version="3.12", upgrade_pyenv_root=pyenv_root, upgrade_no_index=True,
                  upgrade_find_links=[wheelhouse], upgrade_installer_isolated=True,
                  upgrade_only_binary=True, upgrade_state_dir=self.state_dir,
                  upgrade_backup_dir=self.backup_dir, upgrade_health_retries=3, upgrade_health_delay=1,
                  upgrade_venvs=[self.venv_entry()])
        hv.update(extra)
        return hv

    def stop(self):
        subprocess.run(self.service_argv("stop"), check=False)


def failed_tasks(plays, ignore=()):
    """``(host, task name, msg)`` of every failed task result, except tasks named in ``ignore``."""
    return [(host, t["task"]["name"], result.get("msg") if "results" not in result
             else [r.get("msg") for r in result["results"] if r.get("failed")]) for p in plays for t in p["tasks"]
            for host, result in t["hosts"].items() if result.get("failed") and t["task"]["name"] not in ignore]

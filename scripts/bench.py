"""Benchmarks of oxzep7.python against the plain tools, measured side by side in one run.

Run it with ``make bench`` (scripts/bench sets everything up first). Writes
docs/benchmarks/README.md (tables, ratios, the targets of issue 14 with PASS/FAIL, the machine, tool
versions and commit) and PNG charts next to it. Sections:

1. upgrade: the ``upgrade`` role end to end (and per stage, from the ledger) on a reference
   venv of 41 packages, against uv (``uv venv`` + ``uv pip sync``), pip (``python -m venv`` +
   ``pip install -r``) and ``ansible.builtin.pip`` into a fresh venv, all from the same local
   wheelhouse with warm caches; the CPU seconds of the role's run, split into the modules' (on the
   host) and the controller's; verdicts: at most 8 s, at least 2 times as fast as ansible.builtin.pip;
2. snapshot_path: the seconds the snapshot keeps the upgrade waiting, for the reference venv and for
   one 4 times its size (verdict: ratio at most 1.5);
3. downtime: probes that hit the app over HTTP and execute ``<stable>/bin/python`` in a tight
   loop through the upgrade, against the naive in-place rebuild (delete, recreate, reinstall,
   restart);
4. fleet: 1, 2, 4 and 8 podman containers with forks equal to hosts; the controller's CPU seconds per
   host (verdict: at most 1 s) and their projection to 1,000 hosts at forks 50 on 8 cores; and, only
   when asked for (``--sections interpreter``, about 10 more minutes), the interpreter stage on 2
   containers compiled once and imported against compiled on every host;
5. ssh: the upgrade of 2 containers over SSH (sshd added to the bench's own image), pipelining on and
   off, ControlPersist on and off: wall and controller CPU seconds;
6. snapshot: snapshot and restore throughput and archive size per compression;
7. drain, only when asked for (``--sections drain``, about 25 minutes: two fresh molecule fleets): the
   molecule fleet (six app hosts behind HAProxy) upgraded whole, one host rolled back, with a probe
   through the balancer every 20 ms, without and with the example drain hooks: failed requests side by
   side (verdict: 0 with the hooks).

Options: ``--repeat N`` (default 2), ``--sections a,b`` (default all but interpreter and drain),
``--smoke`` (one repetition, small sizes: a 2 times venv, 1 and 2 containers, 1 container over SSH
with both settings on and both off; a quick check that everything runs, nothing written) and
``--keep-others`` (keep the last numbers of the sections not run now).
"""

import argparse
import concurrent.futures
import functools
import json
import math
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from support import UV, WHEELHOUSE, Probe, pyenv_root_path  # noqa: E402
from helpers import failed_tasks, free_port, run_fleet_playbook  # noqa: E402

from ansible_collections.oxzep7.python.plugins.module_utils import _snapshot  # noqa: E402
from ansible_collections.oxzep7.python.plugins.module_utils._common import Runner  # noqa: E402
from ansible_collections.oxzep7.python.plugins.module_utils._layout import Layout  # noqa: E402
from ansible_collections.oxzep7.python.plugins.module_utils._venv import resolve_interpreter, tree_size  # noqa: E402

OUT = os.path.join(ROOT, "docs", "benchmarks")
BENCH_WHEELHOUSE = os.path.join(ROOT, ".cache", "bench", "wheelhouse")
REQUIREMENTS = os.path.join(ROOT, "benchmarks", "requirements.txt")
# The exec probe: the stable path's interpreter starts and finds the app's package, without importing
# Flask and SQLAlchemy (about 1 s a call on a loaded machine, which would measure the probe, not the gap).
FIND_APP = "import importlib.util, sys; sys.exit(importlib.util.find_spec('demoapp') is None)"
PREPARED_VENV = "/srv/prepared-venv"  # the app's venv in the bench's prepared image, see Containers.prepared_image
LINKS = ["--no-index", "--find-links", BENCH_WHEELHOUSE, "--find-links", WHEELHOUSE]


def run(argv, **kwargs):
    """Run ``argv``; return its wall time in seconds. Raises on failure."""
    started = time.monotonic()
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          check=False, **kwargs)
    if proc.returncode != 0:
        raise RuntimeError("%s failed:\n%s" % (" ".join(argv), proc.stdout[-3000:]))
    return time.monotonic() - started


def children_cpu():
    """User plus system CPU seconds (float) of every finished child of this process and of the
    descendants they waited for (``getrusage(RUSAGE_CHILDREN)``, Linux ``getrusage(2)``)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measured(func, *args, **kwargs):
    """Call ``func``; return ``(its result, wall seconds, children's CPU seconds)``: the CPU that the
    processes it started and waited for used (ansible-playbook, its workers, their modules and commands,
    the podman CLI; not a container's processes, which are children of conmon, not of podman)."""
    cpu, started = children_cpu(), time.monotonic()
    result = func(*args, **kwargs)
    return result, time.monotonic() - started, children_cpu() - cpu


class CpuMeter:
    """A stand-in executable that runs ``executable`` and appends the CPU seconds of it and its children to a
    log, through bash's ``times`` builtin. As the local host's ``ansible_python_interpreter`` it tells the
    modules' CPU from the controller's (on the local connection a module is a child of ansible-playbook's
    worker); as ``ansible_podman_executable`` it measures the podman connection's own CLI calls."""

    def __init__(self, work, name, executable):
        self.path, self.log = os.path.join(work, "metered-" + name), os.path.join(work, name + "-cpu.log")
        with open(self.path, "w") as fh:
            # not in a pipeline: there, times would run in a subshell of its own and print zeros
            fh.write('#!/bin/bash\n%s "$@"\nrc=$?\ntimes >> %s\nexit $rc\n' % (executable, self.log))
        os.chmod(self.path, 0o755)

    def take(self):
        """Return the CPU seconds (float) logged since the last call, and empty the log."""
        try:
            with open(self.log) as fh:
                lines = fh.read().split("\n")
            os.unlink(self.log)
        except FileNotFoundError:
            return 0.0
        total = 0.0
        # "0m0.001s 0m0.000s" (the shell's user and system), then "0m1.234s 0m0.120s" (its children's)
        for line in lines:
            for field in line.split():
                minutes, seconds = field.rstrip("s").split("m")
                total += 60 * int(minutes) + float(seconds)
        return total


def fit_line(xs, ys):
    """Least-squares line through the points; return ``(slope, intercept)`` (floats)."""
    mean_x, mean_y = statistics.mean(xs), statistics.mean(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sum((x - mean_x) ** 2 for x in xs)
    return slope, mean_y - slope * mean_x


def verdict(name, value, limit, unit, at_most=True):
    """A target check: ``dict(name, value, limit, unit, at_most, ok)``; prints ``PASS``/``FAIL`` with the numbers."""
    ok = value <= limit if at_most else value >= limit
    result = dict(name=name, value=value, limit=limit, unit=unit, at_most=at_most, ok=ok)
    print(verdict_line(result), flush=True)
    return result


def verdict_line(v):
    """``PASS name: value unit (target <= limit unit)`` for a :func:`verdict` dict."""
    return "%s %s: %.2f %s (target %s %.2f %s)" % (
        "PASS" if v["ok"] else "FAIL", v["name"], v["value"], v["unit"], "<=" if v["at_most"] else ">=", v["limit"],
        v["unit"])


def snapshot_critical(record, steps):
    """The seconds the snapshot stage kept the upgrade waiting, from the ledger: ``snapshot_wait`` (a snapshot
    that runs beside the rebuild) when the modules record it, in the ``upgrade`` record's per-stage ``seconds``
    or as a step of its own, else ``snapshot`` (a snapshot that runs before the rebuild), looked up the same
    way. ``record``: the run's record with per-stage seconds; ``steps``: step name -> seconds of the run.
    Returns ``(seconds, source)``, or ``(None, None)`` when the ledger holds none."""
    stages = record.get("seconds") if isinstance(record.get("seconds"), dict) else {}
    for key in ("snapshot_wait", "snapshot"):
        if isinstance(stages.get(key), (int, float)):
            return float(stages[key]), "the %s record's seconds.%s" % (record.get("step"), key)
        if isinstance(steps.get(key), (int, float)):
            return float(steps[key]), "the %s step's seconds" % key
    return None, None


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="oxzep7-bench-")
        root = pyenv_root_path()
        self.pyenv_root = root
        self.old = resolve_interpreter(python_version="3.9", pyenv_root=root)
        self.new = resolve_interpreter(python_version="3.12", pyenv_root=root)
        self.results = {}
        self.prepared_image = None  # see Containers.prepared_image
        self.meter = CpuMeter(self.work, "python", sys.executable)
        self.podman_meter = CpuMeter(self.work, "podman", shutil.which("podman") or "podman")
        self.ssh_prepared = None  # see ssh_image

    # --- helpers -----------------------------------------------------------------------
    def reference_venv(self, path, requirements=REQUIREMENTS):
        """A plain venv on 3.9 with the reference set, as a team would have it."""
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        run([self.old, "-m", "venv", path])
        run([UV, "pip", "install", "--no-config", "--python", os.path.join(path, "bin", "python"), "-r",
             requirements] + LINKS)
        return path

    def host_vars(self, base, venv, **extra):
        hv = dict(upgrade_python_version="3.12", upgrade_pyenv_root=self.pyenv_root, upgrade_no_index=True,
                  upgrade_find_links=[BENCH_WHEELHOUSE, WHEELHOUSE], upgrade_installer_isolated=True,
                  upgrade_only_binary=True, upgrade_state_dir=os.path.join(base, "state"),
                  upgrade_backup_dir=os.path.join(base, "backups"), upgrade_health_retries=10,
                  upgrade_health_delay=1, upgrade_venvs=[venv], preflight_reference_paths=[],
                  ansible_python_interpreter=self.meter.path)
        hv.update(extra)
        return hv

    def upgrade(self, base, venv, **extra):
        """The upgrade playbook on localhost. Returns a dict: ``wall`` (seconds), ``record`` (the venv's last
        ``upgrade`` ledger record, or its last record with per-stage seconds), ``steps`` (step -> seconds of
        this run's records), ``tasks`` (task results that were not skipped), ``cpu`` (CPU seconds: ``total``
        of ansible-playbook and everything below it, ``host`` of the modules run on the host ``app`` and
        their commands, ``controller`` the rest: ansible-playbook, its workers and controller-side tasks)."""
        self.meter.take()
        (rc, _stats, plays), wall, cpu = measured(
            run_fleet_playbook, "upgrade.yml", base, {"app": self.host_vars(base, venv, **extra)},
            extra_vars=dict(python_upgrade_report_dir=os.path.join(base, "r")))
        host_cpu = self.meter.take()
        if rc != 0:
            raise RuntimeError("the upgrade failed: %s" % json.dumps(plays)[-3000:])
        records = []
        for top, _dirs, files in os.walk(os.path.join(base, "state")):
            if "ledger.jsonl" in files:
                with open(os.path.join(top, "ledger.jsonl")) as fh:
                    records += [json.loads(line) for line in fh]
        steps = dict((r["step"], r.get("seconds")) for r in records if r.get("run_id"))
        staged = [r for r in records if isinstance(r.get("seconds"), dict)]
        record = ([r for r in staged if r["step"] == "upgrade"] or staged or [{}])[-1]
        tasks = sum(1 for p in plays for t in p["tasks"] for h in t["hosts"].values() if not h.get("skipped"))
        return dict(wall=wall, record=record, steps=steps, tasks=tasks,
                    cpu=dict(total=cpu, host=host_cpu, controller=cpu - host_cpu))

    # --- 1. upgrade time ---------------------------------------------------------------------
    def section_upgrade(self):
        lock = os.path.join(self.work, "lock.txt")
        shutil.copy(REQUIREMENTS, lock)
        ours, stages, tasks, outside, cpu, apip_cpu = [], [], [], [], [], []
        uv, pip, apip = [], [], []
        playbook = os.path.join(self.work, "builtin-pip.yml")
        with open(playbook, "w") as fh:
            fh.write("""- hosts: python_fleet
  gather_facts: false
  tasks:
    - name: What users write today
      ansible.builtin.pip:
        requirements: %s
        virtualenv: "{{ dest }}"
        virtualenv_command: %s -m venv
        extra_args: %s
""" % (lock, self.new, " ".join(LINKS)))
        # Fill uv's cache, which the role's rebuild (uv on PATH) and the uv baseline both use. pip and
        # ansible.builtin.pip install the local wheel files directly: they have no cache to fill.
        warm = os.path.join(self.work, "warm-uv-venv")
        run([UV, "venv", "--no-config", "-q", "--python", self.new, warm])
        run([UV, "pip", "sync", "--no-config", "-q", "--python", os.path.join(warm, "bin", "python"), lock] + LINKS)
        venv_bytes = None
        for i in range(self.args.repeat):
            base = os.path.join(self.work, "upgrade-%d" % i)
            stable = self.reference_venv(os.path.join(base, "srv", "app", "venv"))
            venv_bytes = venv_bytes or tree_size(stable)
            up = self.upgrade(base, dict(path=stable, imports=["demoapp", "numpy", "pandas"]))
            dest = os.path.join(base, "uv-venv")
            t_uv = run([UV, "venv", "--no-config", "-q", "--python", self.new, dest]) + run(
                [UV, "pip", "sync", "--no-config", "-q", "--python", os.path.join(dest, "bin", "python"), lock] + LINKS)
            dest = os.path.join(base, "pip-venv")
            t_pip = run([self.new, "-m", "venv", dest]) + run(
                [os.path.join(dest, "bin", "python"), "-m", "pip", "install", "-q", "--isolated",
                 "--disable-pip-version-check", "-r", lock] + LINKS)
            dest = os.path.join(base, "builtin-pip-venv")
            self.meter.take()
            (rc, _stats, plays), t_apip, t_cpu = measured(
                run_fleet_playbook, playbook, base, {"app": dict(ansible_python_interpreter=self.meter.path)},
                extra_vars=dict(dest=dest))
            host_cpu = self.meter.take()
            if rc != 0:
                raise RuntimeError("ansible.builtin.pip failed: %s" % json.dumps(plays)[-2000:])
            record = up["record"]
            ours.append(up["wall"])
            stages.append(dict((k, float((record.get("seconds") or {}).get(k) or 0))
                               for k in ("snapshot", "rebuild", "verify")))
            stages[-1]["switch"] = float(up["steps"].get("switch") or 0)
            stages[-1]["snapshot_critical"] = snapshot_critical(record, up["steps"])[0] or 0.0
            tasks.append(up["tasks"])
            outside.append(up["wall"] - stages[-1]["rebuild"])
            cpu.append(up["cpu"])
            apip_cpu.append(dict(total=t_cpu, host=host_cpu, controller=t_cpu - host_cpu))
            uv.append(t_uv)
            pip.append(t_pip)
            apip.append(t_apip)
        med = statistics.median
        result = dict(
            packages=sum(1 for line in open(lock) if line.strip() and not line.startswith("#")),
            venv_bytes=venv_bytes, repeat=self.args.repeat,
            ours=med(ours), uv=med(uv), pip=med(pip), builtin_pip=med(apip),
            stages=dict((k, med(s[k] for s in stages)) for k in stages[0]),
            tasks=med(tasks), outside_installers=med(outside),
            cpu=dict((k, med(c[k] for c in cpu)) for k in cpu[0]),
            builtin_pip_cpu=dict((k, med(c[k] for c in apip_cpu)) for k in apip_cpu[0]),
            samples=dict(ours=ours, uv=uv, pip=pip, builtin_pip=apip, cpu=cpu, builtin_pip_cpu=apip_cpu))
        result["speedup_vs_builtin_pip"] = result["builtin_pip"] / result["ours"]
        print("upgrade: role %.1f s, ansible.builtin.pip %.1f s, uv %.1f s, pip %.1f s; CPU s of the role's run: "
              "%.1f in all, %.1f in the modules on the host, %.1f on the controller" % (
                  result["ours"], result["builtin_pip"], result["uv"], result["pip"], result["cpu"]["total"],
                  result["cpu"]["host"], result["cpu"]["controller"]), flush=True)
        result["verdicts"] = [
            verdict("upgrade role end to end", result["ours"], 8.0, "s"),
            verdict("speed-up over ansible.builtin.pip", result["speedup_vs_builtin_pip"], 2.0, "x", at_most=False)]
        self.results["upgrade"] = result

    # --- 3. downtime ---------------------------------------------------------------------
    def section_downtime(self):
        demo_requirements = os.path.join(ROOT, "tests", "fixtures", "demoapp", "requirements.txt")
        out = {}
        for method in ("ours", "naive"):
            base = os.path.join(self.work, "downtime-" + method)
            stable = self.reference_venv(os.path.join(base, "srv", "app", "venv"), demo_requirements)
            port, pidfile = free_port(), os.path.join(base, "app.pid")

            def service(action, stable=stable, port=port, pidfile=pidfile):
                return [os.path.join(stable, "bin", "python"), "-m", "demoapp.service", action, str(port), pidfile]

            run(service("start"))
            probes = [Probe(lambda: urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=2).read()),
                      Probe(lambda: subprocess.run([os.path.join(stable, "bin", "python"), "-c", FIND_APP],
                                                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))]
            for p in probes:
                p.start()
            time.sleep(1)
            started = time.monotonic()
            if method == "ours":
                self.upgrade(base, dict(path=stable, imports=["demoapp"], restart_commands=[service("restart")],
                                        health_url="http://127.0.0.1:%d/health" % port))
            else:
                shutil.rmtree(stable)
                run([UV, "venv", "--no-config", "-q", "--python", self.new, stable])
                run([UV, "pip", "install", "--no-config", "-q", "--python", os.path.join(stable, "bin", "python"),
                     "-r", demo_requirements] + LINKS)
                run(service("restart"))
                wait_http("http://127.0.0.1:%d/health" % port)
            seconds = time.monotonic() - started
            time.sleep(1)
            for p in probes:
                p.stop()
            run(service("stop"))
            out[method] = dict(seconds=seconds, http=probes[0].summary(), exec=probes[1].summary())
        self.results["downtime"] = out

    # --- 4. fleet scaling ----------------------------------------------------------------
    def section_fleet(self):
        """1, 2, 4 and 8 containers (1 and 2 with ``--smoke``), forks = hosts: wall time, each host's seconds, and
        the controller's CPU seconds (ansible-playbook, its workers, the podman CLI calls of the connection and
        the controller-side tasks; the modules run inside the containers, whose processes are not the
        controller's children). Per-host controller CPU is the slope of a least-squares line through
        (hosts, CPU seconds); its intercept is the fixed cost of a run."""
        out = []
        for count in (1, 2) if self.args.smoke else (1, 2, 4, 8):
            fleet = Containers(count, self)
            try:
                fleet.up()
                self.podman_meter.take()
                (rc, _stats, plays), wall, cpu = measured(fleet.playbook, "upgrade.yml", dict(
                    python_upgrade_canary_count=0, python_upgrade_serial=["100%"]))
                podman_cpu = self.podman_meter.take()
                if rc != 0:
                    raise RuntimeError("fleet upgrade failed: %s" % failed_tasks(plays))
                per_host = fleet.totals()
                out.append(dict(hosts=count, wall=wall, per_host_median=statistics.median(per_host),
                                per_host_max=max(per_host), controller_cpu=cpu, podman_cli_cpu=podman_cpu))
                print("fleet: %d hosts, %.1f s, controller CPU %.1f s (%.1f s in the podman CLI calls of the "
                      "connection)" % (count, wall, cpu, podman_cpu), flush=True)
            finally:
                fleet.down()
        hosts = [r["hosts"] for r in out]
        slope, intercept = fit_line(hosts, [r["controller_cpu"] for r in out])
        without = fit_line(hosts, [r["controller_cpu"] - r["podman_cli_cpu"] for r in out])
        print("fleet: controller CPU per host %.2f s, of which %.2f s outside the podman CLI" % (slope, without[0]))
        self.results["fleet"] = out
        self.results["fleet_cpu"] = dict(per_host=slope, fixed=intercept, per_host_without_podman_cli=without[0],
                                         fixed_without_podman_cli=without[1], verdicts=[
                                             verdict("controller CPU per host", slope, 1.0, "CPU s")],
                                         projection=projection(slope, intercept, out))

    def section_interpreter(self):
        """CPython 3.13.5 on 2 containers: compiled once and imported, against compiled on each."""
        playbook = os.path.join(self.work, "interpreter.yml")
        with open(playbook, "w") as fh:
            fh.write("- hosts: python_fleet\n  gather_facts: false\n  roles:\n    - oxzep7.python.interpreter\n")
        out = []
        for build_once in (True, False):
            fleet = Containers(2, self)
            try:
                fleet.up(prepare=False)
                started = time.monotonic()
                rc, _stats, plays = fleet.playbook(playbook, dict(
                    interpreter_versions=["3.13.5"], interpreter_build_once=build_once,
                    interpreter_pyenv_archive=os.path.join(ROOT, ".cache", "pyenv.tar.gz"),
                    interpreter_source_cache=os.path.join(ROOT, ".cache", "python-build"),
                    interpreter_make_opts="-j2", upgrade_pyenv_root="/opt/pyenv",
                    interpreter_archive_dir=os.path.join(fleet.base, "interpreters-%s" % build_once)))
                if rc != 0:
                    raise RuntimeError("interpreter role failed: %s" % failed_tasks(plays))
                out.append(dict(build_once=build_once, hosts=2, wall=time.monotonic() - started))
            finally:
                fleet.down()
        self.results["interpreter"] = out

    # --- 5. SSH: pipelining and ControlPersist ------------------------------------------------
    def ssh_image(self, image):
        """Once per bench run: ``image`` (the prepared image) plus Debian's openssh-server, installed with apt from
        the archive the test image's sources name (the test image itself is not changed), ssh.service disabled
        (each container starts it on a port of its own) and this run's public key authorized for root."""
        if self.ssh_prepared:
            return self.ssh_prepared
        key = os.path.join(self.work, "id_ed25519")
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key])
        base = Containers(1, self, prefix="oxzep7-bench-sshbase")
        try:
            base.start(base.names, image)
            name = base.names[0]
            base.podman("exec", name, "sh", "-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive "
                        "apt-get install -y -qq --no-install-recommends openssh-server >/dev/null")
            base.podman("exec", name, "systemctl", "disable", "--now", "ssh.service", "ssh.socket")
            base.podman("exec", name, "install", "-d", "-m", "0700", "/root/.ssh")
            base.podman("cp", key + ".pub", "%s:/root/.ssh/authorized_keys" % name)
            base.podman("exec", name, "chown", "root:root", "/root/.ssh/authorized_keys")
            self.ssh_prepared = "localhost/oxzep7-bench-ssh:%d" % os.getpid()
            base.podman("commit", "-q", name, self.ssh_prepared)
        finally:
            base.down()
        return self.ssh_prepared

    def section_ssh(self):
        """The upgrade over SSH to 2 containers (1 with ``--smoke``), pipelining on and off, ControlPersist on and
        off (both on and both off with ``--smoke``): wall seconds and the controller's CPU seconds, which here
        include the ssh clients (children of the workers) and the ControlPersist masters (which ssh puts in the
        background, so they are read from /proc before they are stopped)."""
        count = 1 if self.args.smoke else 2
        persist = "-C -o ControlMaster=auto -o ControlPersist=60s"  # ansible-core's default ssh_args
        single = "-C -o ControlMaster=no -o ControlPersist=no"
        configs = [(True, persist), (False, single)] if self.args.smoke else [
            (True, persist), (False, persist), (True, single), (False, single)]
        out = []
        for i, (pipelining, ssh_args) in enumerate(configs):
            control = os.path.join(self.work, "cp-%d" % i)
            os.makedirs(control)
            fleet = Containers(count, self, prefix="oxzep7-bench-ssh%d" % i, ssh=dict(
                key=os.path.join(self.work, "id_ed25519"), ssh_args=ssh_args, pipelining=pipelining,
                control_path_dir=control))
            try:
                fleet.up()
                (rc, _stats, plays), wall, cpu = measured(fleet.playbook, "upgrade.yml", dict(
                    python_upgrade_canary_count=0, python_upgrade_serial=["100%"]))
                masters = stop_masters(control)
                if rc != 0:
                    raise RuntimeError("upgrade over ssh failed: %s" % failed_tasks(plays))
                out.append(dict(hosts=count, pipelining=pipelining, control_persist="ControlPersist=60s" in ssh_args,
                                ssh_args=ssh_args, wall=wall, controller_cpu=cpu + masters, masters_cpu=masters))
                print("ssh: %d hosts, pipelining %s, %s: %.1f s, controller CPU %.1f s (%.1f in ControlPersist "
                      "masters)" % (count, pipelining, ssh_args, wall, cpu + masters, masters), flush=True)
            finally:
                stop_masters(control)
                fleet.down()
        self.results["ssh"] = out

    # --- 2. the snapshot on the critical path ------------------------------------------------
    def big_venv(self, path, factor):
        """The reference venv plus copies of the reference set's real package files (uv ``--target``, copied,
        not hard-linked from uv's cache, so that every copy is data of its own) under ``share/bench-ballast``,
        which is not on ``sys.path``: the lock, the rebuild and the gates stay those of the reference venv,
        only the venv the snapshot reads grows. The local wheelhouses hold too few other wheels (a few MB) to
        reach 4 times the reference venv by installing distributions. Returns the venv's size in bytes."""
        self.reference_venv(path)
        python, size, copies = os.path.join(path, "bin", "python"), tree_size(path), 0
        goal = factor * size
        while size < goal:
            copies += 1
            last = os.path.join(path, "share", "bench-ballast", "copy-%d" % copies)
            run([UV, "pip", "install", "--no-config", "-q", "--link-mode", "copy", "--python", python, "--target",
                 last, "-r", REQUIREMENTS] + LINKS)
            size = tree_size(path)
        # trim the last copy, largest entries first, down to the goal
        for entry, entry_size in sorted(((e.path, tree_size(e.path) if e.is_dir(follow_symlinks=False)
                                          else e.stat(follow_symlinks=False).st_size) for e in os.scandir(last)),
                                        key=lambda pair: -pair[1]):
            if size - entry_size >= goal:
                if os.path.isdir(entry):
                    shutil.rmtree(entry)
                else:
                    os.unlink(entry)
                size -= entry_size
        return tree_size(path)

    def section_snapshot_path(self):
        """Seconds the snapshot stage adds to the upgrade of the reference venv and of one ``factor`` times its
        size (4, or 2 with ``--smoke``), upgraded alternately in the same run."""
        factor = 2 if self.args.smoke else 4
        samples = dict(reference=[], big=[])
        sizes, source = {}, None
        for i in range(self.args.repeat):
            for kind in ("reference", "big"):
                base = os.path.join(self.work, "snapshot-path-%s-%d" % (kind, i))
                stable = os.path.join(base, "srv", "app", "venv")
                if kind == "big":
                    sizes[kind] = self.big_venv(stable, factor)
                else:
                    sizes[kind] = tree_size(self.reference_venv(stable))
                up = self.upgrade(base, dict(path=stable, imports=["demoapp"]))
                seconds, source = snapshot_critical(up["record"], up["steps"])
                if seconds is None:
                    raise RuntimeError("the ledger of %s records no snapshot seconds: %s" % (
                        stable, json.dumps(up["record"])))
                samples[kind].append(dict(critical=seconds, wall=up["wall"]))
                shutil.rmtree(base, ignore_errors=True)
        med = statistics.median
        result = dict(factor=factor, repeat=self.args.repeat, source=source, samples=samples,
                      bytes=sizes, size_ratio=sizes["big"] / sizes["reference"],
                      ballast="copies of the reference set's package files (uv --target, copied), not on sys.path")
        for kind in samples:
            result[kind] = dict(critical=med(s["critical"] for s in samples[kind]),
                                wall=med(s["wall"] for s in samples[kind]))
        result["ratio"] = result["big"]["critical"] / max(result["reference"]["critical"], 0.001)
        print("snapshot critical path (%s): reference venv %.0f MB %.2f s, big venv %.0f MB %.2f s" % (
            source, sizes["reference"] / 1e6, result["reference"]["critical"], sizes["big"] / 1e6,
            result["big"]["critical"]), flush=True)
        result["verdicts"] = [verdict("snapshot critical path, %.1fx venv / reference" % result["size_ratio"],
                                      result["ratio"], 1.5, "x")]
        self.results["snapshot_path"] = result

    # --- 6. snapshot and restore -------------------------------------------------------------
    def section_snapshot(self):
        stable = self.reference_venv(os.path.join(self.work, "snap", "srv", "app", "venv"))
        size = tree_size(stable)
        layout = Layout(stable)
        out = []
        for compression in ("none", "gz", "bz2", "xz"):
            backups = os.path.join(self.work, "snap", "backups-" + compression)
            started = time.monotonic()
            taken = _snapshot.take(Runner(), layout, backups, compression=compression, keep=0)
            t_take = time.monotonic() - started
            started = time.monotonic()
            restored = _snapshot.restore(layout, backups, taken["snapshot_id"])
            t_restore = time.monotonic() - started
            layout.remove_release(restored["release_id"])
            out.append(dict(compression=compression, bytes=size, archive_bytes=taken["archive_bytes"],
                            snapshot_s=t_take, restore_s=t_restore,
                            snapshot_mb_s=size / t_take / 1e6, restore_mb_s=size / t_restore / 1e6))
        self.results["snapshot"] = out

    # --- 7. drain behind HAProxy (opt-in) ------------------------------------------------------
    def section_drain(self):
        """The molecule fleet of tests/molecule/test_fleet_runs.py (its Fleet: scripts/molecule destroy, create,
        prepare, converge), fresh for each mode: playbooks/upgrade.yml over all six hosts (canary, batches
        [1, 2, "100%"], failure budget 50%, oxzep7-fleet-4 rolled back), first without hooks, then with the
        example drain hooks; a :class:`Probe` requests the balancer's frontend every 20 ms from 1 s before the run
        to 1 s after it. Records the probe's calls and failures, the Python versions that answered, and HAProxy's
        retries and redispatches (``show stat``: ``wretr``, ``wredis``), which hide failed connections from the
        client."""
        sys.path.insert(0, os.path.join(ROOT, "tests", "molecule"))
        import test_fleet_runs as bed  # pylint: disable=import-outside-toplevel
        out = {}
        for mode, hooks in (("without", {}), ("with", bed.DRAIN_HOOKS["upgrade_hooks"])):
            run_id = "drain-" + mode
            fleet = bed.Fleet(self.pyenv_root, os.path.join(self.work, run_id))
            os.makedirs(fleet.reports)
            try:
                fleet.start()
                probe = Probe(bed.frontend_python, interval=0.02)
                probe.start()
                time.sleep(1)
                started = time.monotonic()
                fleet.molecule("converge", dict(upgrade_hooks=hooks, python_upgrade_run_id=run_id,
                                                python_upgrade_max_fail_percentage=50))
                seconds = time.monotonic() - started
                time.sleep(1)
                probe.stop()
                statuses = dict((h["host"], h["status"]) for h in fleet.report(run_id)["hosts"])
                servers = bed.balancer_servers()
            finally:
                fleet.stop()
            if statuses != dict((h, "rolled_back" if h == bed.BAD else "upgraded") for h in bed.FLEET):
                raise RuntimeError("the fleet run %s ended otherwise than expected: %s" % (run_id, statuses))
            out[mode] = dict(probe.summary(), seconds=seconds, answers=dict(probe.values()), errors=probe.errors(5),
                             retries=sum(int(r["wretr"] or 0) for r in servers.values()),
                             redispatches=sum(int(r["wredis"] or 0) for r in servers.values()))
            print("drain: %s the hooks, %d requests in %.0f s, %d failed, HAProxy retried %d and redispatched %d" % (
                mode, out[mode]["calls"], seconds, out[mode]["failed"], out[mode]["retries"],
                out[mode]["redispatches"]), flush=True)
        out["verdicts"] = [verdict("failed requests through HAProxy while the fleet upgrades, with the drain hooks",
                                   out["with"]["failed"], 0, "requests")]
        self.results["drain"] = out


def stop_masters(control_path_dir):
    """Find the ssh ControlPersist masters whose socket lies in ``control_path_dir`` (their command line names it:
    ``ssh: <dir>/<hash> [mux]``), stop them, and return the CPU seconds (float) they used with their children
    (/proc/<pid>/stat utime, stime, cutime, cstime; proc(5))."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0.0
    for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as fh:
                cmdline = fh.read().decode("utf-8", "replace")
            if not cmdline.startswith("ssh: " + control_path_dir + os.sep):
                continue
            with open("/proc/%s/stat" % pid) as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += sum(int(f) for f in fields[11:15]) / tick
            os.kill(int(pid), 15)
        except (OSError, ValueError):
            continue
    return total


def projection(per_host, fixed, fleet, hosts=1000, forks=50, cores=8):
    """The controller for ``hosts`` hosts at ``forks`` forks on ``cores`` cores, from the fleet section's fit:
    CPU seconds in all = ``per_host`` * hosts + ``fixed``; a lower bound of the wall seconds = the larger of
    that CPU spread over every core and the one-host run's wall seconds times the number of rounds of
    ``forks`` hosts (ceil(hosts / forks)), as if every round took as long as one host alone."""
    one_host = [r["wall"] for r in fleet if r["hosts"] == 1][0]
    total = per_host * hosts + fixed
    rounds = math.ceil(hosts / forks)
    return dict(hosts=hosts, forks=forks, cores=cores, cpu_total=total, cpu_wall=total / cores,
                one_host_wall=one_host, rounds=rounds, rounds_wall=one_host * rounds,
                wall_lower_bound=max(total / cores, one_host * rounds))


def wait_http(url, timeout=30):
    deadline = time.time() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.05)


def each(names, func):
    """``func(name)`` for every name in threads; raises the first error."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(names)) as pool:
        list(pool.map(func, names))


@functools.lru_cache(maxsize=None)
def prepare_unit_template():
    """The demo app's systemd unit as molecule's prepare playbook writes it (a Jinja2 template of
    ``app_port``); read once per bench run."""
    import jinja2
    import yaml
    with open(os.path.join(ROOT, "molecule", "resources", "prepare.yml")) as fh:
        tasks = yaml.safe_load(fh)[0]["tasks"]
    task = [t for t in tasks if t["name"] == "Install the app's systemd unit"][0]
    return jinja2.Template(task["ansible.builtin.copy"]["content"])


class Containers:
    """``count`` podman containers of the test image with the demo app, as molecule's prepare makes them."""

    def __init__(self, count, bench, prefix="oxzep7-bench", ssh=None):
        """``ssh``: None for the podman connection, or a dict ``key`` (private key file), ``ssh_args`` (the ssh
        connection's ``ssh_args``), ``pipelining`` (bool) and ``control_path_dir`` to reach the containers
        through sshd (see :meth:`Bench.ssh_image`)."""
        self.count, self.bench, self.ssh = count, bench, ssh
        self.names = ["%s-%d" % (prefix, i) for i in range(1, count + 1)]
        self.base = os.path.join(bench.work, "%s-%d" % (prefix, count))
        os.makedirs(self.base, exist_ok=True)
        self.ports = dict((n, 18200 + i) for i, n in enumerate(self.names, 1))
        self.ssh_ports = dict((n, 18300 + i) for i, n in enumerate(self.names, 1))

    def podman(self, *argv):
        return run(["podman"] + list(argv))

    def up(self, prepare=True):
        """Start the containers; with ``prepare``, from an image that already holds the app's venv, each with
        the app's unit of molecule's prepare playbook on its own port, started. Containers are set up side by
        side (this is not measured)."""
        image = self.prepared_image() if prepare else os.environ["OXZEP7_TEST_IMAGE"]
        self.start(self.names, self.bench.ssh_image(image) if self.ssh else image)
        if prepare:
            each(self.names, self.serve_app)
        if self.ssh:
            each(self.names, self.serve_ssh)

    def serve_ssh(self, name):
        """sshd of the container on its own port of 127.0.0.1 (the containers share the host's network)."""
        conf = os.path.join(self.base, name + "-sshd.conf")
        with open(conf, "w") as fh:
            fh.write("Port %d\nListenAddress 127.0.0.1\n" % self.ssh_ports[name])
        self.podman("cp", conf, "%s:/etc/ssh/sshd_config.d/bench.conf" % name)
        self.podman("exec", name, "systemctl", "start", "ssh.service")
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.ssh_ports[name]), timeout=2).close()
                return
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)

    def serve_app(self, name):
        # into the writable layer: overlayfs cannot exchange a directory of the image's layer
        self.podman("exec", name, "cp", "-a", PREPARED_VENV, "/srv/app/venv")
        unit = os.path.join(self.base, name + ".service")
        with open(unit, "w") as fh:
            fh.write(prepare_unit_template().render(app_port=self.ports[name]))
        self.podman("cp", unit, "%s:/etc/systemd/system/demoapp.service" % name)
        self.podman("exec", name, "systemctl", "daemon-reload")
        self.podman("exec", name, "systemctl", "enable", "--now", "demoapp.service")
        wait_http("http://127.0.0.1:%d/health" % self.ports[name])

    def start(self, names, image):
        def start_one(name):
            subprocess.run(["podman", "rm", "-f", name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           check=False)
            self.podman("run", "-d", "--name", name, "--network", "host", "--systemd", "always",
                        "-v", "%s/versions:%s/versions:ro" % (self.bench.pyenv_root, self.bench.pyenv_root),
                        image, "/sbin/init")
            deadline = time.time() + 60  # systemd inside must be up before anything talks to it
            while subprocess.run(["podman", "exec", name, "systemctl", "is-system-running"], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, universal_newlines=True,
                                 check=False).stdout.strip() not in ("running", "degraded"):
                if time.time() > deadline:
                    raise RuntimeError("systemd did not start in %s" % name)
                time.sleep(0.5)
        each(names, start_one)

    def prepared_image(self):
        """Once per bench run: prepare one container, drop its unit (its port is its own), move the app's venv
        aside, put uv on PATH (the role then builds releases with uv, as in the upgrade section) and commit it.
        Saves every round the venv creation and the pip install of each host, which are not measured. The venv
        is copied back per container: in the image's layer, ``renameat2`` exchange fails with EXDEV on overlayfs
        and the role refuses to adopt it."""
        if self.bench.prepared_image:
            return self.bench.prepared_image
        base = Containers(1, self.bench, prefix="oxzep7-bench-base")
        try:
            base.start(base.names, os.environ["OXZEP7_TEST_IMAGE"])
            rc, _stats, plays = base.playbook(os.path.join(ROOT, "molecule", "resources", "prepare.yml"), {})
            if rc != 0:
                raise RuntimeError("prepare failed: %s" % failed_tasks(plays))
            base.podman("exec", base.names[0], "systemctl", "disable", "--now", "demoapp.service")
            base.podman("exec", base.names[0], "rm", "/etc/systemd/system/demoapp.service")
            base.podman("exec", base.names[0], "mv", "/srv/app/venv", PREPARED_VENV)
            base.podman("cp", UV, "%s:/usr/local/bin/uv" % base.names[0])  # the role's installer, as on this machine
            image = "localhost/oxzep7-bench-prepared:%d" % os.getpid()
            base.podman("commit", "-q", base.names[0], image)
        finally:
            base.down()
        self.bench.prepared_image = image
        return image

    def playbook(self, playbook, extra):
        hosts = dict((n, dict(ansible_connection="containers.podman.podman", app_port=self.ports[n],
                              ansible_podman_executable=self.bench.podman_meter.path,
                              ansible_python_interpreter="/usr/bin/python3")) for n in self.names)
        if self.ssh:
            for n, hv in hosts.items():
                hv.update(ansible_connection="ansible.builtin.ssh", ansible_host="127.0.0.1", ansible_user="root",
                          ansible_port=self.ssh_ports[n], ansible_ssh_private_key_file=self.ssh["key"],
                          ansible_ssh_args=self.ssh["ssh_args"], ansible_pipelining=self.ssh["pipelining"],
                          ansible_control_path_dir=self.ssh["control_path_dir"],
                          ansible_ssh_common_args="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                                                  "-o LogLevel=ERROR")
        common = dict(upgrade_python_version="3.12", upgrade_pyenv_root=self.bench.pyenv_root, upgrade_no_index=True,
                      upgrade_find_links=[os.environ["OXZEP7_WHEELHOUSE_URL"]], upgrade_installer_isolated=True,
                      upgrade_only_binary=True, upgrade_health_retries=10, upgrade_health_delay=1,
                      upgrade_venvs=[dict(path="/srv/app/venv", services=["demoapp.service"], imports=["demoapp"],
                                          health_url="http://127.0.0.1:{{ app_port }}/health")])
        hosts = dict((n, dict(common, **hv)) for n, hv in hosts.items())
        os.environ["ANSIBLE_FORKS"] = str(self.count)
        extra = dict(extra, python_upgrade_report_dir=os.path.join(self.base, "reports"), python_upgrade_run_id="b")
        return run_fleet_playbook(playbook, self.base, hosts, extra_vars=extra)

    def totals(self):
        with open(os.path.join(self.base, "reports", "b", "report.json")) as fh:
            report = json.load(fh)
        return [float(v["seconds"]["total"]) for h in report["hosts"] for v in h["venvs"]]

    def down(self):
        subprocess.run(["podman", "rm", "-f", "-t", "0"] + self.names, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)


# --- the report ----------------------------------------------------------------------------

def versions():
    def out(argv):
        try:
            return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                                  check=False).stdout.strip().splitlines()[0]
        except (OSError, IndexError):
            return "not found"
    return dict(
        machine="%s, %d cores, %s" % (platform.platform(), os.cpu_count(), platform.machine()),
        cores=os.cpu_count(),
        commit=out(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]),
        ansible=out([os.path.join(os.path.dirname(sys.executable), "ansible"), "--version"]),
        uv=out([UV, "--version"]), pip=out([sys.executable, "-m", "pip", "--version"]).split(" from ")[0],
        podman=out(["podman", "--version"]), python=platform.python_version(),
        date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))


def charts(results):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    files = []
    if "upgrade" in results:
        u = results["upgrade"]
        fig, ax = plt.subplots(figsize=(7, 3.5))
        names = ["oxzep7 upgrade role", "uv venv + pip sync", "venv + pip install", "ansible.builtin.pip"]
        ax.barh(names, [u["ours"], u["uv"], u["pip"], u["builtin_pip"]], color=["#4a7", "#79c", "#79c", "#c97"])
        ax.set_xlabel("seconds (median of %d)" % u["repeat"])
        ax.set_title("Upgrade of a %d-package venv, 3.9 to 3.12" % u["packages"])
        ax.invert_yaxis()
        fig.tight_layout()
        fig.savefig(os.path.join(OUT, "upgrade.png"), dpi=100)
        files.append("upgrade.png")
    if "downtime" in results:
        d = results["downtime"]
        fig, ax = plt.subplots(figsize=(7, 3))
        labels = ["HTTP probe", "exec probe"]
        for i, method in enumerate(("ours", "naive")):
            values = [d[method]["http"]["longest_gap_ms"] or 0, d[method]["exec"]["longest_gap_ms"] or 0]
            bars = ax.bar([x + i * 0.4 for x in range(2)], values, 0.4,
                          label="oxzep7 (switch + restart)" if method == "ours" else "naive in-place rebuild")
            ax.bar_label(bars, labels=["%d failed" % d[method][probe]["failed"] for probe in ("http", "exec")],
                         fontsize=8)
        ax.set_xticks([0.2, 1.2], labels)
        ax.set_ylabel("longest gap, ms")
        ax.set_yscale("log")
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(OUT, "downtime.png"), dpi=100)
        files.append("downtime.png")
    if results.get("fleet"):
        f = results["fleet"]
        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.plot([r["hosts"] for r in f], [r["wall"] for r in f], "o-", label="whole run")
        ax.plot([r["hosts"] for r in f], [r["per_host_median"] for r in f], "s--", label="per host (median)")
        ax.set_xlabel("hosts (forks = hosts)")
        ax.set_ylabel("seconds")
        ax.set_xticks([r["hosts"] for r in f])
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(OUT, "fleet.png"), dpi=100)
        files.append("fleet.png")
    if "snapshot" in results:
        s = results["snapshot"]
        fig, ax = plt.subplots(figsize=(7, 3))
        xs = range(len(s))
        ax.bar([x - 0.2 for x in xs], [r["snapshot_mb_s"] for r in s], 0.4, label="snapshot")
        ax.bar([x + 0.2 for x in xs], [r["restore_mb_s"] for r in s], 0.4, label="restore")
        ax.set_xticks(list(xs), [r["compression"] for r in s])
        ax.set_ylabel("MB/s of venv")
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(OUT, "snapshot.png"), dpi=100)
        files.append("snapshot.png")
    return files


def markdown(results, env, files):
    lines = ["# Benchmarks", "",
             "Measured by `make bench` (scripts/bench.py) on %s, commit `%s`, %s." % (
                 env["machine"], env["commit"], env["date"]),
             "Tools: %s; %s; %s; %s; Python %s (controller)." % (env["ansible"], env["uv"], env["pip"], env["podman"],
                                                                 env["python"]), ""]
    verdicts = [v for section in results.values() if isinstance(section, dict) for v in section.get("verdicts", [])]
    if verdicts:
        lines += ["## Targets (issues 14 and 15)", "", "| target | measured | verdict |", "| --- | ---: | --- |"]
        lines += ["| %s %s %.2f %s | %.2f %s | %s |" % (
            v["name"], "at most" if v["at_most"] else "at least", v["limit"], v["unit"], v["value"], v["unit"],
            "PASS" if v["ok"] else "FAIL") for v in verdicts]
        lines += [""]
    if "upgrade" in results:
        u = results["upgrade"]
        lines += ["## Upgrade of one venv", "",
                  "A plain venv on CPython 3.9 with %d packages (%.0f MB), moved to 3.12 from a local wheelhouse "
                  "with warm caches (uv's cache filled first); median of %d rounds. The baselines build the same lock "
                  "for 3.12 in the same run. The last column is how many times as long each approach takes as the "
                  "role: above 1, the role is faster." % (u["packages"], u["venv_bytes"] / 1e6, u["repeat"]), "",
                  "| approach | seconds | this / oxzep7 |", "| --- | ---: | ---: |",
                  "| oxzep7 `upgrade` role, end to end | %.1f | 1.00 |" % u["ours"],
                  "| `uv venv` + `uv pip sync` | %.1f | %.2f |" % (u["uv"], u["uv"] / u["ours"]),
                  "| `python -m venv` + `pip install -r` | %.1f | %.2f |" % (u["pip"], u["pip"] / u["ours"]),
                  "| `ansible.builtin.pip` into a fresh venv | %.1f | %.2f |" % (
                      u["builtin_pip"], u["builtin_pip"] / u["ours"]),
                  "",
                  "Stages of the role (median seconds, from the ledger): snapshot %.1f (of which %.1f on the critical "
                  "path), rebuild %.1f (uv), verify %.1f, switch %.3f. The run's plays had %d task results that were "
                  "not skipped; %.1f s of the run are outside the installer (snapshot, inspection, preflight, "
                  "verification, switch, bookkeeping and Ansible itself)." % (
                      u["stages"]["snapshot"], u["stages"].get("snapshot_critical") or 0,
                      u["stages"]["rebuild"], u["stages"]["verify"], u["stages"]["switch"], u["tasks"],
                      u["outside_installers"]), ""]
        if "cpu" in u:
            c, b = u["cpu"], u["builtin_pip_cpu"]
            lines += ["CPU seconds (user + system, median) of the role's run: %.1f in all, of which %.1f in the "
                      "modules on the host (and the commands they ran) and %.1f on the controller (ansible-playbook, "
                      "its workers and the controller-side tasks); the `ansible.builtin.pip` run: %.1f in all, %.1f "
                      "host, %.1f controller. The bench runs the host on the controller itself (local connection), "
                      "so each module is a child of ansible-playbook: it runs the modules through an interpreter "
                      "wrapper that logs their CPU (bash's `times`), and the controller's share is the run's "
                      "`getrusage(RUSAGE_CHILDREN)` less that. The snapshot's archive is written by a writer process "
                      "of its own (it outlives the module when the switch comes first), which no module waits for: "
                      "its CPU (zstd at level 3 on the venv) is in neither number." % (
                          c["total"], c["host"], c["controller"], b["total"], b["host"], b["controller"]), ""]
        lines += ["![upgrade](upgrade.png)", ""]
    if results.get("snapshot_path"):
        p = results["snapshot_path"]
        lines += ["## The snapshot on the critical path", "",
                  "The seconds the snapshot stage keeps the upgrade waiting (%s, from the venv's ledger), for the "
                  "reference venv and for a venv %.1f times its size: the reference set plus %s, so that the lock, "
                  "the rebuild and the gates are the same and only what the snapshot reads grows (the local "
                  "wheelhouses hold too few other wheels to reach that size with installed distributions). Both "
                  "upgraded alternately by the `upgrade` role, median of %d rounds. The switch does not wait for "
                  "the archive: its writer, a process of its own, goes on after the switch when it must, while the "
                  "old release stays on disk as the rollback target, so what is left on the critical path is the "
                  "lock and the writer's start, whatever the venv's size." % (
                      p["source"], p["size_ratio"], p["ballast"], p["repeat"]), "",
                  "| venv | MB | snapshot on the critical path s | whole upgrade s |", "| --- | ---: | ---: | ---: |",
                  "| reference | %.0f | %.2f | %.1f |" % (
                      p["bytes"]["reference"] / 1e6, p["reference"]["critical"], p["reference"]["wall"]),
                  "| %.1fx | %.0f | %.2f | %.1f |" % (
                      p["size_ratio"], p["bytes"]["big"] / 1e6, p["big"]["critical"], p["big"]["wall"]),
                  "", "Ratio big / reference: %.2f." % p["ratio"], ""]
    if "downtime" in results:
        d = results["downtime"]
        lines += ["## Downtime", "",
                  "Two probes run in a tight loop from 1 s before to 1 s after the change: an HTTP request to the app "
                  "and `<stable path>/bin/python -c` a line that exits non-zero unless "
                  "`importlib.util.find_spec('demoapp')` finds the app's package (the interpreter starts and the "
                  "venv's packages are there, without importing Flask on every call). The naive baseline deletes the "
                  "venv, recreates it with uv, reinstalls and restarts.", "",
                  "| method | seconds | HTTP calls | HTTP failed | HTTP longest gap ms | exec calls | exec failed | "
                  "exec longest gap ms |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for method, label in (("ours", "oxzep7: new release, atomic switch, restart"), ("naive", "naive in-place")):
            r = d[method]
            lines.append("| %s | %.1f | %d | %d | %s | %d | %d | %s |" % (
                label, r["seconds"], r["http"]["calls"], r["http"]["failed"], r["http"]["longest_gap_ms"],
                r["exec"]["calls"], r["exec"]["failed"], r["exec"]["longest_gap_ms"]))
        lines += ["", "A gap is the time between two successful calls of a probe, so it includes one call. The HTTP "
                  "gap is the app's own stop and start, which a restart cannot avoid.", "",
                  "![downtime](downtime.png)", ""]
    if results.get("drain"):
        d = results["drain"]
        lines += ["## Zero downtime behind HAProxy", "",
                  "The molecule fleet: six app hosts behind Debian's HAProxy (`option redispatch`, `retries 3`, "
                  "health checks every second, fall 2, rise 2), upgraded whole by `playbooks/upgrade.yml` (canary, "
                  "batches `[1, 2, \"100%\"]`, failure budget 50%; `oxzep7-fleet-4` fails its health check on 3.12 and "
                  "is rolled back, so it restarts twice). A probe on the controller requests the balancer's `/health` "
                  "every 20 ms from 1 s before the run to 1 s after it. Each mode on a fresh fleet; with the hooks, "
                  "`playbooks/hooks/haproxy-drain.yml` at `after_switch` and `haproxy-enable.yml` at `after_health` "
                  "and `on_rollback` (see [load balancers](../load-balancers.md)). Opt-in: `scripts/bench --sections "
                  "drain --keep-others`.", "",
                  "| drain hooks | run s | requests | failed | longest gap ms | HAProxy retries | HAProxy redispatches "
                  "| answers on 3.9 / 3.12 |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for mode in ("without", "with"):
            r = d[mode]
            by_version = dict((v.rsplit(".", 1)[0], n) for v, n in r["answers"].items())
            lines.append("| %s | %.0f | %d | **%d** | %s | %d | %d | %d / %d |" % (
                mode, r["seconds"], r["calls"], r["failed"], r["longest_gap_ms"], r["retries"], r["redispatches"],
                by_version.get("3.9", 0), by_version.get("3.12", 0)))
        lines += ["", "HAProxy's retries and redispatches (`show stat`: `wretr` and `wredis`, summed over the servers) "
                  "count requests whose connection to a restarting host failed and that HAProxy sent again, to that "
                  "host or another: the client did not see them fail, it waited for them. What HAProxy cannot save is "
                  "a request in flight on a host when its service stops (the client gets a 502 or a closed "
                  "connection); the drain hook waits until the host has no session left before the restart.", ""]
    if results.get("interpreter"):
        lines += ["## Interpreter stage", "",
                  "CPython 3.13.5 from the local source cache onto 2 containers (the `interpreter` role, "
                  "`make -j2`, build dependencies from Debian's packages). This section is opt-in "
                  "(`scripts/bench --sections interpreter --keep-others`, about 10 minutes): it compiles CPython three "
                  "times (once, then once on each host), which takes most of those minutes on 2 cores.", "",
                  "| mode | whole stage s |", "| --- | ---: |"]
        lines += ["| %s | %.0f |" % ("compiled once, imported by the other host" if r["build_once"]
                                     else "compiled on every host", r["wall"]) for r in results["interpreter"]]
        walls = dict((r["build_once"], r["wall"]) for r in results["interpreter"])
        if len(walls) == 2:
            lines += ["", "Compiling on every host takes %.1f times as long as compiling once." % (
                walls[False] / walls[True])]
        lines += [""]
    if results.get("fleet"):
        lines += ["## Fleet scaling", "",
                  "Podman containers of the test image (systemd, the demo app as a service, uv on PATH so the role "
                  "builds releases with uv, each host with an empty uv cache), one batch, forks = hosts, on the same "
                  "%d cores." % env["cores"], "",
                  "| hosts | whole run s | per host median s | per host max s |", "| ---: | ---: | ---: | ---: |"]
        cpu = all("controller_cpu" in r for r in results["fleet"])
        if cpu:
            lines[-2:] = ["| hosts | whole run s | per host median s | per host max s | controller CPU s |",
                          "| ---: | ---: | ---: | ---: | ---: |"]
        lines += ["| %d | %.1f | %.1f | %.1f |" % (r["hosts"], r["wall"], r["per_host_median"], r["per_host_max"])
                  + (" %.1f |" % r["controller_cpu"] if cpu else "") for r in results["fleet"]]
        lines += ["", "Per-host seconds come from each venv's ledger record (snapshot to health check); the whole run "
                  "adds the preflight, the interpreter role and Ansible's own work. The hosts of a batch work side by "
                  "side, but they share the machine's %d cores: past 2 hosts each host's own seconds grow with the "
                  "fleet, and the whole run measures the CPU that Ansible, podman and the hosts' installers need "
                  "together." % env["cores"], ""]
        if cpu and results.get("fleet_cpu"):
            f = results["fleet_cpu"]
            j = f["projection"]
            lines += ["### Controller CPU per host and 1,000 hosts", "",
                      "Controller CPU is the user + system seconds of ansible-playbook and every process below it "
                      "that it waited for (`getrusage(RUSAGE_CHILDREN)` around the run): its workers, the `podman` "
                      "CLI of each connection call and the controller-side tasks. The modules run inside the "
                      "containers, whose processes belong to conmon, not to the controller's tree, so they are not "
                      "in it. A least-squares line through (hosts, controller CPU s) gives:", "",
                      "- per-host controller CPU (slope): **%.2f s** (target at most 1 s);" % f["per_host"],
                      "- fixed cost of a run (intercept): %.1f s." % f["fixed"], ""]
            if "per_host_without_podman_cli" in f:
                lines += ["Of the per-host CPU, %.2f s is outside the `podman` CLI calls of the connection (the "
                          "connection's executable is a wrapper that logs their CPU): that part is Ansible's own "
                          "(workers, module packing, results, callbacks, controller-side tasks) and stays whatever "
                          "the connection; over SSH the ssh client takes the podman CLI's place (see the SSH section)."
                          % f["per_host_without_podman_cli"], ""]
            lines += ["Projection to {:,} hosts at forks {} on a controller with {} cores:".format(
                      j["hosts"], j["forks"], j["cores"]), "",
                      "    controller CPU total = per-host CPU x %d + fixed" % j["hosts"],
                      "                         = %.2f x %d + %.1f = %.0f CPU s" % (
                          f["per_host"], j["hosts"], f["fixed"], j["cpu_total"]),
                      "    wall lower bound     = max(total CPU / %d cores, one-host wall x ceil(%d / %d))" % (
                          j["cores"], j["hosts"], j["forks"]),
                      "                         = max(%.0f / %d, %.1f x %d) = max(%.0f, %.0f) = %.0f s (%.1f min)" % (
                          j["cpu_total"], j["cores"], j["one_host_wall"], j["rounds"], j["cpu_wall"],
                          j["rounds_wall"], j["wall_lower_bound"], j["wall_lower_bound"] / 60), "",
                      "The one-host wall is the whole run on one container here (preflight, interpreter and upgrade "
                      "plays); the bound assumes the hosts themselves are never the bottleneck and that every round "
                      "of %d hosts takes as long as one host alone. Over SSH the controller also pays the ssh client "
                      "and its encryption per call instead of the podman CLI: see [fleet tuning](../fleet-tuning.md) "
                      "for pipelining and ControlPersist, which set how many processes and handshakes each task "
                      "costs." % j["forks"], ""]
        lines += ["![fleet](fleet.png)", ""]
    if results.get("ssh"):
        lines += ["## SSH: pipelining and ControlPersist", "",
                  "The same upgrade to %d container(s) over `ansible.builtin.ssh` to sshd in each container (Debian's "
                  "openssh-server, added by the bench to its own copy of the prepared image), forks = hosts, one "
                  "batch. Controller CPU is that of ansible-playbook and everything it waited for (its workers and "
                  "their ssh clients) plus the ControlPersist masters, which ssh runs in the background and the bench "
                  "reads from /proc before stopping them. See [fleet tuning](../fleet-tuning.md)." % (
                      results["ssh"][0]["hosts"]), "",
                  "| pipelining | `ssh_args` | whole run s | controller CPU s | of which ControlPersist masters s |",
                  "| --- | --- | ---: | ---: | ---: |"]
        lines += ["| %s | `%s` | %.1f | %.1f | %.1f |" % (
            "on" if r["pipelining"] else "off", r["ssh_args"], r["wall"], r["controller_cpu"], r["masters_cpu"])
            for r in results["ssh"]]
        lines += [""]
    if "snapshot" in results:
        lines += ["## Snapshot and restore", "",
                  "The reference venv (%.0f MB): `venv_snapshot` (archive, lock, SHA256SUMS) and `venv_restore` (every "
                  "checksum checked) per compression." % (results["snapshot"][0]["bytes"] / 1e6), "",
                  "| compression | archive MB | snapshot s | snapshot MB/s | restore s | restore MB/s |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |"]
        lines += ["| %s | %.1f | %.1f | %.1f | %.1f | %.1f |" % (
            r["compression"], r["archive_bytes"] / 1e6, r["snapshot_s"], r["snapshot_mb_s"], r["restore_s"],
            r["restore_mb_s"]) for r in results["snapshot"]]
        lines += ["", "![snapshot](snapshot.png)", ""]
    lines += ["Raw numbers: [results.json](results.json).", ""]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--sections", default="upgrade,snapshot_path,downtime,fleet,ssh,snapshot")
    parser.add_argument("--smoke", action="store_true",
                        help="one round, small sizes (2 hosts, a 2x venv), results not written to docs/")
    parser.add_argument("--keep-others", action="store_true",
                        help="keep the last numbers of the sections not run now in docs/benchmarks")
    args = parser.parse_args()
    if args.smoke:
        args.repeat = 1
    bench = Bench(args)
    try:
        for section in [s for s in args.sections.split(",") if s]:
            started = time.monotonic()
            getattr(bench, "section_" + section)()
            print("%s: %.0f s" % (section, time.monotonic() - started), flush=True)
    finally:
        shutil.rmtree(bench.work, ignore_errors=True)
        for image in (bench.ssh_prepared, bench.prepared_image):
            if image:
                subprocess.run(["podman", "rmi", "-f", image], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               check=False)
    env = versions()
    print(json.dumps(dict(env=env, results=bench.results), indent=2))
    for section in bench.results.values():
        for v in section.get("verdicts", []) if isinstance(section, dict) else []:
            print(verdict_line(v))
    if args.smoke:
        return
    os.makedirs(OUT, exist_ok=True)
    results = dict(bench.results)
    previous = os.path.join(OUT, "results.json")
    if os.path.exists(previous) and args.keep_others:  # sections not run now keep their last numbers
        with open(previous) as fh:
            results = dict(json.load(fh)["results"], **bench.results)
    with open(previous, "w") as fh:
        json.dump(dict(env=env, results=results), fh, indent=2)
    files = charts(results)
    with open(os.path.join(OUT, "README.md"), "w") as fh:
        fh.write(markdown(results, env, files))


if __name__ == "__main__":
    main()

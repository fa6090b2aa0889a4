"""playbooks/upgrade.yml run by ansible-runner as AWX and AAP run a job: a private data directory laid out
as AWX's ``RunJob`` lays it out (``project/``, an inventory script in ``inventory/``, ``env/extravars``
with AWX's meta variables, ``env/envvars`` with the environment AWX sets, ``env/settings``), the job id
as runner's ident, against local-connection hosts with real venvs.

AWX's side, from its source (``awx/main/tasks/jobs.py`` ``RunJob.build_env``, ``build_extra_vars_file``,
``build_inventory``; ``awx/main/models/unified_jobs.py`` and ``jobs.py`` ``awx_meta_vars``;
``awx/main/models/workflow.py`` for slices): each slice of a sliced job template is a job of that
template in a workflow job, with its own ``awx_job_id``, the template's ``awx_job_template_id``, the
workflow's ``awx_workflow_job_id`` and an inventory of its hosts only.
"""

import json
import os
import stat
import subprocess
import sys

import ansible_runner
import yaml

from support import BIN, ROOT, UV

from ansible_collections.oxzep7.python.plugins.module_utils._archive import tree_manifest
from ansible_collections.oxzep7.python.plugins.module_utils._layout import Layout
from ansible_collections.oxzep7.python.plugins.module_utils._state import acquire_lock, lock_path, read_lock
from ansible_collections.oxzep7.python.plugins.module_utils._venv import python_of

AWX_HOST = "https://awx.example.com"
TEMPLATE = dict(id=7, name="Upgrade Python")
PROJECT_PLAYBOOK = "- name: Upgrade the venvs' Python\n  ansible.builtin.import_playbook: oxzep7.python.upgrade\n"


def awx_job(tmp, job_id, hosts, playbook=PROJECT_PLAYBOOK, template=None, workflow_job_id=None,
            awx_host=AWX_HOST, extra_vars=None):
    """Run one AWX job with ansible-runner: hosts (name -> host vars) in group python_fleet; ``template``:
    its job template (``id``, ``name``), by default ``TEMPLATE``.

    :returns: ``(runner, artifact dir)``: the ``ansible_runner.Runner`` after the run.
    """
    pdd = os.path.join(tmp, "awx_%d" % job_id)  # AWX: mkdtemp(prefix='awx_<job id>_'), /runner in the EE
    for sub in ("project", "inventory", "env"):
        os.makedirs(os.path.join(pdd, sub))
    with open(os.path.join(pdd, "project", "upgrade.yml"), "w") as fh:
        fh.write(playbook)
    # AWX writes the inventory as a script printing Inventory.get_script_data() (only the slice's hosts)
    local = dict(ansible_connection="local", ansible_python_interpreter=sys.executable)
    script = {"all": {"children": ["python_fleet", "ungrouped"]}, "python_fleet": {"hosts": sorted(hosts)},
              "_meta": {"hostvars": dict((name, dict(local, remote_tower_enabled="true", remote_tower_id=i + 1, **v))
                                         for i, (name, v) in enumerate(sorted(hosts.items())))}}
    inventory = os.path.join(pdd, "inventory", "hosts")
    with open(inventory, "w") as fh:
        fh.write("#! %s\n# -*- coding: utf-8 -*-\nprint(%r)\n" % (sys.executable, json.dumps(script)))
    os.chmod(inventory, stat.S_IRWXU)
    template = template or TEMPLATE
    meta = {}  # Job.awx_meta_vars(), under both prefixes
    for prefix in ("awx", "tower"):
        meta.update({prefix + "_job_id": job_id, prefix + "_job_launch_type": "workflow" if workflow_job_id else "manual",
                     prefix + "_job_template_id": template["id"], prefix + "_job_template_name": template["name"],
                     prefix + "_inventory_id": 3, prefix + "_inventory_name": "fleet",
                     prefix + "_project_revision": "0" * 40, prefix + "_user_id": 1, prefix + "_user_name": "admin"})
        if workflow_job_id:
            meta.update({prefix + "_workflow_job_id": workflow_job_id, prefix + "_workflow_job_name": template["name"]})
    with open(os.path.join(pdd, "env", "extravars"), "w") as fh:
        yaml.safe_dump(dict(extra_vars or {}, **meta), fh)
    envvars = dict(JOB_ID=str(job_id), INVENTORY_ID="3", PROJECT_REVISION="0" * 40, AWX_HOST=awx_host,
                   AWX_PRIVATE_DATA_DIR=pdd, ANSIBLE_RETRY_FILES_ENABLED="False", MAX_EVENT_RES="700000",
                   ANSIBLE_SSH_CONTROL_PATH_DIR=os.path.join(pdd, "cp"),
                   ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".cache", "collections"),
                   ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_DEPRECATION_WARNINGS="0", ANSIBLE_NOCOLOR="1",
                   PATH=BIN + os.pathsep + os.environ.get("PATH", ""))  # the tool venv's ansible-playbook
    with open(os.path.join(pdd, "env", "envvars"), "w") as fh:
        yaml.safe_dump(envvars, fh)
    with open(os.path.join(pdd, "env", "settings"), "w") as fh:
        json.dump(dict(job_timeout=600, suppress_ansible_output=True, suppress_output_file=False), fh)
    runner = ansible_runner.run(private_data_dir=pdd, ident=str(job_id), playbook="upgrade.yml", inventory=inventory,
                                quiet=True)
    return runner, os.path.join(pdd, "artifacts", str(job_id))


def events(runner, name):
    return [e for e in runner.events if e["event"] == name]


def task_result(runner, task):
    """The result of the first ``runner_on_ok`` or ``runner_on_failed`` event of a task whose name ends in ``task``."""
    for e in runner.events:
        if e["event"] in ("runner_on_ok", "runner_on_failed") and e["event_data"].get("task", "").endswith(task):
            return e["event_data"]["res"]
    raise AssertionError("no result of %r" % task)


def summary(runner):
    """What set_stats published (the ``playbook_on_stats`` event's ``artifact_data``, AWX's job artifacts)."""
    stats = events(runner, "playbook_on_stats")
    assert len(stats) == 1, runner.stdout.read()
    return stats[0]["event_data"]["artifact_data"]["python_upgrade_summary"]


def venv(path, python, wheelhouse):
    """A plain venv at ``path`` on ``python`` with idna."""
    subprocess.run([python, "-m", "venv", path], check=True)
    subprocess.run([UV, "pip", "install", "--quiet", "--no-config", "--python", python_of(path), "--no-index",
                    "--find-links", wheelhouse, "idna==3.4"], check=True)
    return path


def host_vars(base, name, pyenv_root, wheelhouse):
    return dict(upgrade_python_version="3.12", upgrade_pyenv_root=pyenv_root, upgrade_no_index=True,
                upgrade_find_links=[wheelhouse], upgrade_installer_isolated=True, preflight_reference_paths=[],
                upgrade_state_dir=os.path.join(base, name, "state"),
                upgrade_backup_dir=os.path.join(base, name, "backups"),
                upgrade_venvs=[dict(path=os.path.join(base, name, "venv"), imports=["idna"])])


def test_a_paused_job_reports_into_its_artifacts_and_publishes_its_summary(tmp_path, pyenv_root, wheelhouse):
    """One AWX job whose maintenance window is closing (no batch fits in it): the report defaults to
    the runner's artifact directory, and set_stats publishes the paused run's summary as the job's
    artifacts."""
    base = str(tmp_path)
    runner, artifacts = awx_job(base, 31, {"app": host_vars(base, "app", pyenv_root, wheelhouse)}, extra_vars=dict(
        python_upgrade_windows=[dict(start="00:00", end="23:59", timezone="UTC")], python_upgrade_batch_seconds=86400))
    assert runner.status == "successful" and runner.rc == 0, runner.stdout.read()
    run_id = summary(runner)["run_id"]
    reports = os.path.join(artifacts, "python-upgrade-reports", run_id)
    with open(os.path.join(reports, "report.json")) as fh:
        report = json.load(fh)
    assert [(h["host"], h["status"]) for h in report["hosts"]] == [("app", "pending")], report["hosts"]
    assert report["status"] == "paused" and os.path.exists(os.path.join(reports, "report.md"))
    assert summary(runner) == dict(
        run_id=run_id, status="paused", target="3.12", paused=True, window=report["window"]["reason"],
        report_dir=reports, totals=dict(report["totals"]),
        reports=dict((ext, os.path.join(reports, "report." + ext)) for ext in ("json", "md", "html")))
    assert "closes" in summary(runner)["window"] and report["totals"]["pending"] == 1


def test_two_slices_make_one_report_and_a_relaunch_takes_over_a_cancelled_jobs_lock(
        tmp_path, old_python, new_python, pyenv_root, wheelhouse):
    """A job template sliced in 2 (AWX workflow job 40): jobs 43 and 44, one host each, report into one
    shared directory. web-1's venv is still locked by job 41 of the same template, cancelled in a
    container that is gone: job 43, its relaunch, takes the lock over and upgrades."""
    base = str(tmp_path)
    old = venv(os.path.join(base, "web-1", "venv"), old_python, wheelhouse)
    venv(os.path.join(base, "web-2", "venv"), new_python, wheelhouse)
    hosts = dict((name, host_vars(base, name, pyenv_root, wheelhouse)) for name in ("web-1", "web-2"))
    cancelled = dict(controller="awx-job-41-ee", pid=12, user="runner", awx=dict(url=AWX_HOST, template=7, job=41))
    held = acquire_lock(hosts["web-1"]["upgrade_state_dir"], old, "awx-workflow-39", cancelled)["held"]
    before = tree_manifest(old)
    shared = os.path.join(base, "nfs", "python-upgrades")  # a path every execution node mounts
    slices = [awx_job(base, job, {name: hosts[name]}, workflow_job_id=40,
                      extra_vars=dict(python_upgrade_report_dir=shared))[0]
              for job, name in ((43, "web-1"), (44, "web-2"))]
    for runner in slices:
        assert runner.status == "successful" and runner.rc == 0, runner.stdout.read()
    assert task_result(slices[0], "Snapshot, rebuild, verify and switch")["lock"]["stolen"] == held
    layout = Layout(old)
    assert layout.current_release() == "awx-workflow-40-cp312"
    assert tree_manifest(layout.release_path(layout.previous_verified())) == before
    assert read_lock(lock_path(hosts["web-1"]["upgrade_state_dir"], old)) is None  # released at the end

    reports = os.path.join(shared, "awx-workflow-40")
    with open(os.path.join(reports, "report.json")) as fh:
        report = json.load(fh)
    with open(os.path.join(reports, "report.md")) as fh:
        markdown = fh.read()
    assert report["run_id"] == "awx-workflow-40" and report["status"] == "completed", report
    assert [(h["host"], h["status"]) for h in report["hosts"]] == [("web-1", "upgraded"), ("web-2", "already_current")]
    assert (report["totals"]["hosts"], report["totals"]["upgraded"], report["totals"]["already_current"]) == (2, 1, 1)
    assert "2 hosts: 1 upgraded, 1 already current." in markdown
    assert markdown.count("| web-1 | upgraded |") == 1 and markdown.count("| web-2 | already_current |") == 1
    # each slice published the run as it stood at its end: the first one's part alone, the last one the whole
    first, last = summary(slices[0]), summary(slices[1])
    assert (first["run_id"], first["status"], first["totals"]["hosts"]) == ("awx-workflow-40", "completed", 1), first
    assert (last["status"], last["totals"], last["report_dir"]) == ("completed", report["totals"], reports), last


def test_only_a_later_job_of_the_same_template_takes_over_its_lock(tmp_path, old_python, wheelhouse):
    """A lock held by job 41 of template 7 (cancelled): jobs of another template, of another AWX, or an
    earlier job of template 7 are refused and change nothing; job 45 of template 7 takes it over."""
    base = str(tmp_path)
    stable = venv(os.path.join(base, "app", "venv"), old_python, wheelhouse)
    state = os.path.join(base, "state")
    owner = dict(controller="awx-job-41-ee", pid=12, user="runner", awx=dict(url=AWX_HOST, template=7, job=41))
    held = acquire_lock(state, stable, "awx-workflow-39", owner)["held"]
    before = tree_manifest(state)
    lock = ("- hosts: python_fleet\n  gather_facts: false\n  tasks:\n    - name: Lock the venv\n"
            "      oxzep7.python.venv_lock: {path: %s, state_dir: %s, run_id: r1}\n" % (stable, state))
    refused = [(42, dict(id=8, name="Another template"), AWX_HOST), (46, TEMPLATE, "https://other-awx.example.com"),
               (40, TEMPLATE, AWX_HOST)]
    for job, template, awx_host in refused:
        runner, _artifacts = awx_job(base, job, {"app": {}}, playbook=lock, template=template, awx_host=awx_host)
        msg = task_result(runner, "Lock the venv")["msg"]
        assert runner.status == "failed" and "%s is locked by run awx-workflow-39 (controller awx-job-41-ee, pid 12, " \
            "AWX job 41 of job template 7, since " % stable in msg, msg
        assert tree_manifest(state) == before, job
    runner, _artifacts = awx_job(base, 45, {"app": {}}, playbook=lock)
    assert runner.status == "successful", runner.stdout.read()
    result = task_result(runner, "Lock the venv")
    assert result["stolen"] == held and result["held"]["owner"]["awx"] == dict(url=AWX_HOST, template=7, job=45)
    assert read_lock(lock_path(state, stable))["run_id"] == "r1"

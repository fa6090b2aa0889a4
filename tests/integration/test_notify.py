"""Webhook notifications of playbooks/upgrade.yml (python_upgrade_notify), received by real HTTP servers on
127.0.0.1: the sequence of a real run with one rollback, in the json, slack and teams formats; receivers
that are down, answer 500 or hang past the timeout never fail the run, each failure is a warning, and
the webhook URLs' secrets (path and query) never reach the output, the reports or the ledger."""

import json
import os
import subprocess

import pytest

from helpers import free_port, read_ledger, run_fleet_playbook_output
from support import SIGNATURE, TOKEN, UV, Receiver

from ansible_collections.oxzep7.python.plugins.module_utils._venv import python_of

# Fails on 3.12: the health check after the switch, so the upgrade switches back (a rollback).
NOT_ON_312 = "import sys; sys.exit(sys.version_info >= (3, 12))"


@pytest.fixture
def receiver():
    made = []

    def make(mode="ok", hang=0.0):
        made.append(Receiver(mode, hang))
        return made[-1]
    yield make
    for server in made:
        server.close()


def _venv(base, name, old_python, wheelhouse):
    path = os.path.join(base, name, "venv")
    subprocess.run([old_python, "-m", "venv", path], check=True)
    subprocess.run([UV, "pip", "install", "--quiet", "--no-config", "--python", python_of(path), "--no-index",
                    "--find-links", wheelhouse, "idna==3.4"], check=True)
    return path


def _host(base, name, pyenv_root, wheelhouse, **entry):
    return dict(upgrade_python_version="3.12", upgrade_pyenv_root=pyenv_root, upgrade_no_index=True,
                upgrade_find_links=[wheelhouse], upgrade_installer_isolated=True, upgrade_health_retries=1,
                upgrade_health_delay=1, upgrade_state_dir=os.path.join(base, name, "state"),
                upgrade_backup_dir=os.path.join(base, name, "backups"), preflight_reference_paths=[],
                upgrade_venvs=[dict(path=os.path.join(base, name, "venv"), imports=["idna"], **entry)])


def _secret_free(base, output):
    """Neither secret in the output of the run nor in any file of the reports or the ledgers."""
    assert TOKEN not in output and SIGNATURE not in output
    for top, _dirs, files in os.walk(base):
        for name in files:
            if top.startswith(os.path.join(base, "reports")) or name == "ledger.jsonl":
                with open(os.path.join(top, name), errors="replace") as fh:
                    text = fh.read()
                assert TOKEN not in text and SIGNATURE not in text, os.path.join(top, name)


def test_a_run_with_one_rollback_notifies_every_event_in_order(tmp_path, old_python, pyenv_root, wheelhouse, receiver):
    """web-1 is the canary and upgrades; web-2, in the next batch, fails its health check on 3.12 and is
    switched back. The webhooks come from the inventory, as group_vars would set them."""
    base = str(tmp_path)
    hook = receiver()
    notify = [hook.url("json"), dict(url=hook.url("slack"), format="slack"), dict(url=hook.url("teams"), format="teams")]
    hosts = {}
    for name in ("web-1", "web-2"):
        stable = _venv(base, name, old_python, wheelhouse)
        health = dict(health_command=[os.path.join(stable, "bin", "python"), "-c", NOT_ON_312]) if name == "web-2" else {}
        hosts[name] = dict(_host(base, name, pyenv_root, wheelhouse, **health), python_upgrade_notify=notify)

    rc, stats, _plays, output = run_fleet_playbook_output("upgrade.yml", base, hosts, timeout=900, extra_vars=dict(
        python_upgrade_report_dir=os.path.join(base, "reports"), python_upgrade_run_id="n1"))
    assert rc != 0 and stats["web-1"]["failures"] == 0 and stats["web-2"]["failures"] == 1, (rc, stats)

    messages = hook.bodies("json")
    assert [m["event"] for m in messages] == ["run_start", "canary_done", "rollback", "batch_done", "run_end"]
    statuses = [dict((h["host"], h["status"]) for h in m["hosts"]) for m in messages]
    assert statuses == [dict(zip(("web-1", "web-2"), s)) for s in (
        ("pending", "pending"), ("upgraded", "pending"), ("upgraded", "rolled_back"), ("upgraded", "rolled_back"),
        ("upgraded", "rolled_back"))]
    # the last batch is done when the run ends: both carry the final report
    assert [m["status"] for m in messages] == ["running"] * 3 + ["completed_with_failures"] * 2
    assert all(m["run_id"] == "n1" and m["target"] == "3.12" and m["totals"]["hosts"] == 2 for m in messages)
    assert [m.get("batch") for m in messages] == [
        dict(stage="canary", number=1, hosts=["web-1"]), dict(stage="canary", number=1, hosts=["web-1"]), None,
        dict(stage="batch", number=2, hosts=["web-2"]), None]
    rollback = messages[2]["rollback"]
    assert (rollback["host"], rollback["path"], rollback["result"], rollback["from"][:4]) == (
        "web-2", hosts["web-2"]["upgrade_venvs"][0]["path"], "rolled_back", "3.9.")
    assert "health command" in rollback["reason"], rollback["reason"]
    # the same fields as report.json, at the end
    with open(os.path.join(base, "reports", "n1", "report.json")) as fh:
        report = json.load(fh)
    assert dict((k, v) for k, v in messages[-1].items() if k not in ("event", "summary", "generated")) == dict(
        (k, v) for k, v in report.items() if k != "generated")

    # the same events for Slack ({"text"}) and Teams (an Adaptive Card in a message), each with a summary
    slack, teams = hook.bodies("slack"), hook.bodies("teams")
    assert [sorted(m) for m in slack] == [["text"]] * 5
    assert "rollback on web-2" in slack[2]["text"] and "3.9." in slack[2]["text"]
    assert [m["type"] for m in teams] == ["message"] * 5
    cards = [m["attachments"][0] for m in teams]
    assert all(c["contentType"] == "application/vnd.microsoft.card.adaptive" for c in cards)
    assert [c["content"]["body"][1]["text"] for c in cards] == [m["text"] for m in slack]
    assert set(t for _p, t, _b in hook.received) == {"application/json"}
    _secret_free(base, output)
    assert [r["run_id"] for r in read_ledger(hosts["web-2"]["upgrade_state_dir"]) if r["step"] == "upgrade"] == ["n1"]


def test_receivers_down_failing_or_hanging_never_fail_the_run(tmp_path, old_python, pyenv_root, wheelhouse, receiver):
    """A window that is never open long enough pauses the run before its first batch: run_start, pause,
    run_end. Four webhooks (extra vars): one down, one answering 500, one answering after 4 s when the
    limit is 1 s, and one that works and gets every event; two entries are not usable."""
    base = str(tmp_path)
    good, failing, hanging = receiver(), receiver("error"), receiver("hang", hang=4)
    down = "http://127.0.0.1:%d/services/down/%s?sig=%s" % (free_port(), TOKEN, SIGNATURE)
    notify = [down, failing.url("json"), dict(url=hanging.url("teams"), format="teams"), good.url("json"),
              dict(url="ftp://files.example/%s" % TOKEN), dict(url=good.url("other"), format="yaml")]
    _venv(base, "app", old_python, wheelhouse)
    rc, stats, _plays, output = run_fleet_playbook_output(
        "upgrade.yml", base, {"app": _host(base, "app", pyenv_root, wheelhouse)}, timeout=600, extra_vars=dict(
            python_upgrade_report_dir=os.path.join(base, "reports"), python_upgrade_run_id="n2",
            python_upgrade_windows=[dict(start="00:00", end="00:01")], python_upgrade_batch_seconds=172800,
            python_upgrade_notify=notify, python_upgrade_notify_timeout=1))
    assert rc == 0 and stats["app"]["failures"] == 0, (rc, stats, output[-3000:])
    events = ["run_start", "pause", "run_end"]
    assert [m["event"] for m in good.bodies("json")] == events
    assert good.bodies("json")[-1]["status"] == "paused"
    assert [m["event"] for m in failing.bodies("json")] == events
    assert [m["type"] for m in hanging.bodies("teams")] == ["message"] * 3
    assert good.bodies("other") == []

    flat = " ".join(output.split())
    for event in events:
        for shown, why in ((down.split("/services")[0], "ConnectionRefusedError"),
                           (failing.url("x").split("/services")[0], "HTTP 500 Internal Server Error"),
                           (hanging.url("x").split("/services")[0], "no answer within 1 s")):
            warning = "the %s notification to %s/… failed (%s" % (event, shown, why)
            assert warning in flat, (warning, output[-4000:])
    assert "python_upgrade_notify[4] (ftp://files.example/…) is not an http or https URL" in flat
    assert "python_upgrade_notify[5] (http://127.0.0.1:%d/…): format 'yaml' is not one of json, slack, teams" % (
        good.port) in flat
    _secret_free(base, output)

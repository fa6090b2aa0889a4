"""_report: one fleet report from the parts of a run (the slices of an AWX sliced job), on real files."""

import json
import os

import pytest

from ansible_collections.oxzep7.python.plugins.module_utils._common import Oxzep7Error
from ansible_collections.oxzep7.python.plugins.plugin_utils._report import build, part_name, render, write_host


def _record(path, result):
    return {"path": path, "result": result, "from": "3.9.19", "to": "3.12.4", "seconds": {"total": 1.0},
            "run_id": "r1"}


def _rows(report):
    return [(h["host"], h["status"]) for h in report["hosts"]]


def test_slices_make_one_report_that_ends_when_every_slice_ended(tmp_path):
    reports = str(tmp_path)
    write_host(reports, "web-1", "r1", [_record("/srv/a/venv", "upgraded")])
    first = render(reports, "r1", ["web-1", "web-2"], target="3.12")  # slice 1 runs
    assert (first["status"], _rows(first)) == ("running", [("web-1", "upgraded"), ("web-2", "pending")])

    write_host(reports, "web-3", "r1", [_record("/srv/a/venv", "already_current")])
    second = render(reports, "r1", ["web-3"], target="3.12", finished=True)  # slice 2 ended, slice 1 still runs
    assert second["status"] == "running" and _rows(second) == [
        ("web-1", "upgraded"), ("web-2", "pending"), ("web-3", "already_current")]
    assert build(reports, "r1", ["web-3"], finished=True)["status"] == "running"

    write_host(reports, "web-2", "r1", [_record("/srv/a/venv", "rolled_back")])
    last = render(reports, "r1", ["web-1", "web-2"], target="3.12", failed=["web-2"], finished=True)
    assert last["status"] == "completed_with_failures" and last["totals"]["hosts"] == 3, last
    assert _rows(last) == [("web-1", "upgraded"), ("web-2", "rolled_back"), ("web-3", "already_current")]
    with open(os.path.join(reports, "report.json")) as fh:
        assert json.load(fh)["hosts"] == last["hosts"]
    assert sorted(os.listdir(os.path.join(reports, "parts"))) == sorted(
        [".lock", os.path.basename(part_name(["web-2", "web-1"])), os.path.basename(part_name(["web-3"]))])


def test_a_relaunched_slice_replaces_its_part(tmp_path):
    """Slice 2 (web-3) failed before it recorded anything; its relaunch upgrades web-3: the report now
    says what the relaunch says, and the run is completed."""
    reports = str(tmp_path)
    write_host(reports, "web-1", "r1", [_record("/srv/a/venv", "upgraded")])
    render(reports, "r1", ["web-1"], finished=True)
    failed = render(reports, "r1", ["web-3"], failed=["web-3"], finished=True)
    assert (failed["status"], _rows(failed)) == ("completed_with_failures", [("web-1", "upgraded"), ("web-3", "failed")])
    write_host(reports, "web-3", "r1", [_record("/srv/a/venv", "upgraded")])
    again = render(reports, "r1", ["web-3"], finished=True)
    assert (again["status"], _rows(again)) == ("completed", [("web-1", "upgraded"), ("web-3", "upgraded")])
    assert len([n for n in os.listdir(os.path.join(reports, "parts")) if n.endswith(".json")]) == 2


@pytest.mark.parametrize("content", [
    "{not json", "[]", json.dumps({"hosts": ["web-9"]}),
    json.dumps(dict(hosts=["../../etc"], failed=[], unreachable=[], finished=True, paused=None, started=1, updated=1)),
    json.dumps(dict(hosts=["web-9"], failed=[], unreachable=[], finished="yes", paused=None, started=1, updated=1)),
])
def test_a_part_file_that_is_not_one_is_refused_naming_it(tmp_path, content):
    reports = str(tmp_path)
    render(reports, "r1", ["web-1"], finished=True)
    with open(os.path.join(reports, "report.json")) as fh:
        before = fh.read()
    bad = os.path.join(reports, "parts", "0123456789abcdef.json")
    with open(bad, "w") as fh:
        fh.write(content)
    for call in (build, render):
        with pytest.raises(Oxzep7Error) as err:
            call(reports, "r1", ["web-1"], finished=True)
        assert "the fleet report part %s " % bad in err.value.msg, err.value.msg
    with open(os.path.join(reports, "report.json")) as fh:
        assert fh.read() == before

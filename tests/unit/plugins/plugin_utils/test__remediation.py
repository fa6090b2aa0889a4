"""_remediation: the stepwise path of a venv and the Remediation section of preflight.md."""

from ansible_collections.oxzep7.python.plugins.module_utils._verdict import stepwise
from ansible_collections.oxzep7.python.plugins.plugin_utils._remediation import markdown

FIX = dict(name="frozenlist", to="1.4.1", crosses_major=False, why="fix", forced_by=[], **{"from": "1.3.3"})
COMPAT = dict(
    targets=["3.10", "3.11", "3.12"],
    inhibitors=[dict(target="3.12", name="frozenlist", check="sdist_build", message="frozenlist 1.3.3 ...")],
    remediation={"3.10": dict(upgrades=[], changes=[], blocked=[], complete=True),
                 "3.11": dict(upgrades=[], changes=[], blocked=[], complete=True),
                 "3.12": dict(upgrades=["frozenlist==1.4.1"], changes=[FIX], blocked=[], complete=True)})


def test_stepwise_joins_packages_and_code_and_counts_a_package_finding_once():
    checks = dict(inhibitors=[
        dict(target="3.12", check="removed_module", module="imp", message="app.py:2 imports imp"),
        dict(target="3.12", name="frozenlist", check="sdist_build", message="frozenlist 1.3.3 ..."),  # passed on
    ])
    path = stepwise(COMPAT, checks, "3.9.18", "3.12")
    assert path["reaches"] == "3.11"
    assert [(s["target"], s["can_move"], s["complete"]) for s in path["steps"]] == [
        ("3.10", True, True), ("3.11", True, True), ("3.12", False, False)]
    assert path["steps"][2]["blocked"] == [dict(name="imp", message="app.py:2 imports imp")]
    assert stepwise(COMPAT, {"skipped": True}, "3.11.7", "3.12")["steps"][0]["complete"]


def test_an_allowlisted_package_inhibitor_neither_stops_nor_blocks_its_step():
    """The allowlist accepted frozenlist's failed build on 3.12: the venv reaches 3.12 (it said None, or 3.11)."""
    blocked = dict(COMPAT, remediation=dict(COMPAT["remediation"], **{"3.12": dict(
        upgrades=[], changes=[], complete=False, blocked=[dict(name="frozenlist", message="frozenlist 1.3.3 ...")])}))
    accepted = dict(COMPAT["inhibitors"][0], allowlist_reason="built in our image")
    path = stepwise(blocked, dict(inhibitors=[], allowlisted=[accepted]), "3.9.18", "3.12")
    assert path["reaches"] == "3.12"
    assert path["steps"][2] == dict(target="3.12", can_move=True, upgrades=[], changes=[], blocked=[], complete=True)
    path = stepwise(blocked, dict(inhibitors=[], allowlisted=[]), "3.9.18", "3.12")
    assert path["reaches"] == "3.11" and path["steps"][2]["blocked"][0]["name"] == "frozenlist"


def test_markdown_shows_each_step_with_its_changes():
    fleet = [dict(host="web1", venvs=[dict(path="/srv/app/venv", **{"from": "3.9.18"},
                                           **stepwise(COMPAT, None, "3.9.18", "3.12"))]),
             dict(host="web2", venvs=[dict(path="/srv/app/venv", steps=[])])]
    text = markdown(fleet)
    assert "`/srv/app/venv` (Python 3.9.18) moves to 3.11 today." in text
    assert "| 3.12 | no | `frozenlist==1.4.1` (from 1.3.3) | - |" in text and "web2" not in text
    assert markdown([]).endswith("None.\n")

"""Which standard library lists the code scan reads (_preflight.lists_between)."""

from ansible_collections.oxzep7.python.plugins.module_utils._preflight import lists_between


def test_lists_between_covers_every_minor_up_to_the_newest_target():
    assert lists_between("3.8.20", ["3.13"]) == ["3.9", "3.10", "3.11", "3.12", "3.13"]
    assert lists_between("3.9.1", ["3.12", "3.10"]) == ["3.10", "3.11", "3.12"]
    assert lists_between("3.12.3", ["3.12"]) == ["3.12"]  # a venv already on the target's minor
    assert lists_between("2.7.18", ["3.12"]) == ["3.12"]  # another major: only what was asked

"""One compile for the platform, imports elsewhere, the same verified interpreter everywhere, venvs moved."""

import json

import testinfra

HOSTS = ["oxzep7-interp-1", "oxzep7-interp-2", "oxzep7-interp-3"]


def test_built_once_and_fanned_out():
    records, digests = {}, set()
    for name in HOSTS:
        host = testinfra.get_host("podman://" + name)
        record = json.loads(host.file("/var/cache/oxzep7-python/cpython-3.13.5.json").content_string)
        records[name] = record["obtained"]
        assert record["prefix"] == "/opt/pyenv/versions/3.13.5"
        digests.add(host.check_output("sha256sum /opt/pyenv/versions/3.13.5/bin/python3.13").split()[0])
        assert host.run("/opt/pyenv/versions/3.13.5/bin/python3.13 -c 'import ssl, sqlite3, ctypes, bz2, lzma, zlib'").rc == 0
        assert host.check_output("/opt/pyenv/bin/pyenv --version").startswith("pyenv 2.")
        release = host.file("/srv/tool/venv").linked_to
        assert release.endswith("-cp313")
        assert host.check_output("/srv/tool/venv/bin/python -c 'import idna, sys; print(sys.version_info[:2])'") == "(3, 13)"
    assert sorted(records.values()) == ["built", "imported", "imported"], records
    assert len(digests) == 1

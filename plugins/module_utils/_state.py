# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-venv state on the host: the folder name of a stable path and its ledger.

``<state_dir>/<slug>/ledger.jsonl`` holds one JSON object per line and step of
every run: ``time`` (UTC ISO 8601), ``run_id``, ``step``, ``from``, ``to``,
``result`` and ``seconds``, plus free-form ``details``.
"""

from __future__ import absolute_import, division, print_function

import hashlib
import json
import os
import re
import time

from ansible_collections.oxzep7.python.plugins.module_utils._common import redact

__metaclass__ = type

DEFAULT_STATE_DIR = "/var/lib/oxzep7-python"
DEFAULT_BACKUP_DIR = "/var/backups/oxzep7-python"


def slug(stable_path):
    """Return the folder name for a stable path: a readable part plus 8 hex digits of its sha256.

    ``/srv/app/venv`` gives ``srv-app-venv-<hash>``.
    """
    readable = re.sub(r"[^A-Za-z0-9]+", "-", stable_path).strip("-")[-48:] or "root"
    digest = hashlib.sha256(stable_path.encode("utf-8")).hexdigest()[:8]
    return "%s-%s" % (readable, digest)


def venv_dir(base, stable_path, mode=0o700):
    """Return (and create, with ``mode``) ``base/<slug>`` for ``stable_path``."""
    path = os.path.join(base, slug(stable_path))
    if not os.path.isdir(path):
        os.makedirs(path, mode)
        os.chmod(path, mode)
    return path


def append_ledger(state_dir, stable_path, record):
    """Append one record (dict) to the ledger of ``stable_path``; returns the record written.

    The line is written with one ``write()`` on a file opened for appending, so
    concurrent writers never interleave inside a line (POSIX ``O_APPEND``). After a
    line torn by a crash, the record starts on a new line.
    """
    record = redact(dict(record))
    record.setdefault("time", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    record["stable_path"] = stable_path
    path = os.path.join(venv_dir(state_dir, stable_path, 0o755), "ledger.jsonl")
    line = json.dumps(record, sort_keys=True) + "\n"
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = "\n" + line  # a line torn by a crash must not swallow this record
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)
    return record


def read_ledger(state_dir, stable_path):
    """Return every ledger record of ``stable_path`` (list of dicts, oldest first).

    Lines that are not JSON (a write cut short by a crash) are skipped.
    """
    path = os.path.join(state_dir, slug(stable_path), "ledger.jsonl")
    records = []
    try:
        with open(path) as fh:
            for line in fh:
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue
    except (IOError, OSError):
        pass
    return records

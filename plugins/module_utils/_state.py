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


class LockHeld(Exception):
    """The venv's lock belongs to another run; ``held`` is what its lock file says (dict)."""

    def __init__(self, held):
        super(LockHeld, self).__init__("locked by run %s" % held.get("run_id"))
        self.held = held


def lock_path(state_dir, stable_path):
    """The per-venv lock file: ``<state_dir>/<slug>/lock``."""
    return os.path.join(state_dir, slug(stable_path), "lock")


def _read_lock(path):
    try:
        with open(path) as fh:
            return json.load(fh)
    except (IOError, OSError):
        return None
    except ValueError:
        return {"run_id": None, "note": "unreadable lock file"}


def acquire_lock(state_dir, stable_path, run_id, owner, steal=None, check_mode=False):
    """Take the venv's lock for ``run_id``, or fail fast when another run holds it.

    The lock file is created with ``O_CREAT | O_EXCL``, so of two runs exactly one gets it. The
    same run taking it again is a no-op (a resumed run). ``steal`` names the run id of a
    holder known to be dead (its controller process is gone): its lock file is first renamed
    away (only one taker can rename it), then created anew.

    :param owner: dict saying who holds it (controller host, pid, user), stored in the file.
    :returns: dict with ``changed``, ``lock_path``, ``held`` (the lock now) and ``stolen``
        (the dead holder's lock, or None).
    :raises LockHeld: when another run holds it (and is not ``steal``).
    """
    path = lock_path(state_dir, stable_path)
    mine = dict(run_id=run_id, owner=owner or {}, acquired=time.time())
    held = _read_lock(path)
    if held is not None and held.get("run_id") == run_id:
        return dict(changed=False, lock_path=path, held=held, stolen=None)
    stolen = None
    if held is not None:
        if steal is None or held.get("run_id") != steal:
            raise LockHeld(held)
        stolen = held
    if check_mode:
        return dict(changed=True, lock_path=path, held=mine, stolen=stolen)
    venv_dir(state_dir, stable_path)
    if stolen is not None:
        try:
            os.rename(path, "%s.stale-%s" % (path, os.getpid()))
        except OSError:
            raise LockHeld(_read_lock(path) or held)  # another run took it over first
        os.unlink("%s.stale-%s" % (path, os.getpid()))
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except OSError:
        raise LockHeld(_read_lock(path) or {})
    with os.fdopen(fd, "w") as fh:
        json.dump(mine, fh)
    return dict(changed=True, lock_path=path, held=mine, stolen=stolen)


def release_lock(state_dir, stable_path, run_id, check_mode=False):
    """Remove the venv's lock if ``run_id`` holds it.

    :returns: dict with ``changed``, ``lock_path`` and ``held`` (what the file said, or None).
    """
    path = lock_path(state_dir, stable_path)
    held = _read_lock(path)
    mine = held is not None and held.get("run_id") == run_id
    if mine and not check_mode:
        os.unlink(path)
    return dict(changed=mine, lock_path=path, held=held)

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors, command running and redaction shared by every oxzep7.python module.

Nothing here imports Ansible, so the domain code can be unit tested and reused
without a module running. Modules adapt ``AnsibleModule.run_command`` to the
:class:`Runner` call shape with :func:`module_runner`.
"""

from __future__ import absolute_import, division, print_function

import errno
import fcntl
import json
import os
import re
import shutil
import stat
import subprocess
import time

__metaclass__ = type

# The lookbehind starts a scheme only where no scheme character precedes it: without it, a long run
# of letters is tried from each of its positions, in quadratic time (a hostile lock line). The user
# information runs to the last "@" before the path, as urllib splits it (a raw "@" in a password).
_URL_USERINFO = re.compile(r"(?<![A-Za-z0-9+.-])(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/\s]+)@")

# Seconds a command may run, by kind of step (the default of Runner.run is TIMEOUT_PROBE).
TIMEOUT_PROBE = 120      # reading facts: an interpreter's inspection, pip freeze, pip config, --version
TIMEOUT_GATE = 600       # checks: pip check, imports, smoke and test commands, resolution, code scans
TIMEOUT_INSTALL = 1800   # venv creation and installs from an index or wheelhouse, a git clone
TIMEOUT_BUILD = 3600     # compiling CPython (pyenv install)
KILL_AFTER = 10          # seconds between TERM and KILL when a command overstays


class Oxzep7Error(Exception):
    """A failure that a module reports with ``fail_json``.

    :param msg: human readable reason (str).
    :param details: extra keys for the failure result, usually ``rc``, ``stdout``,
        ``stderr`` and ``cmd`` of the command that failed; values are redacted.
    """

    def __init__(self, msg, **details):
        super(Oxzep7Error, self).__init__(msg)
        self.msg = redact(msg)
        self.details = redact(details)


def redact(value):
    """Return ``value`` with the user:password part of every URL replaced by ``***``.

    Works on str, and recursively on lists, tuples and dicts; other values are
    returned unchanged. ``https://u:p@host/simple`` becomes ``https://***@host/simple``.

    :param value: any JSON-like value.
    :returns: the same shape with credentials removed.
    """
    if isinstance(value, str):
        return _URL_USERINFO.sub(r"\g<scheme>***@", value)
    if isinstance(value, (list, tuple)):
        return type(value)(redact(v) for v in value)
    if isinstance(value, dict):
        return dict((k, redact(v)) for k, v in value.items())
    return value


def url_secrets(urls):
    """Return the passwords (and whole user:password parts) found in URLs, as a set of str.

    Modules add them to ``AnsibleModule.no_log_values`` so that Ansible masks them
    everywhere it prints module arguments, including the ``invocation`` of results.
    """
    found = set()
    for url in urls:
        for match in _URL_USERINFO.finditer(url or ""):  # a value may hold several (PIP_EXTRA_INDEX_URL)
            userinfo = match.group("userinfo")
            found.add(userinfo)
            if ":" in userinfo:
                found.add(userinfo.split(":", 1)[1])
    return set(s for s in found if s)


class CommandTimeout(Oxzep7Error):
    """A command ran out of its time limit (see :meth:`Runner.run`)."""


class CommandResult:
    """What one command returned: ``rc`` (int), ``stdout`` and ``stderr`` (str),
    ``cmd`` (list of str, as asked for: without the ``timeout`` wrapper) and ``seconds``
    (float, wall time)."""

    def __init__(self, cmd, rc, stdout, stderr, seconds):
        self.cmd = list(cmd)
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.seconds = seconds

    def as_dict(self):
        """Return the result as a redacted dict with keys cmd, rc, stdout, stderr, seconds."""
        return redact(dict(cmd=self.cmd, rc=self.rc, stdout=self.stdout,
                           stderr=self.stderr, seconds=round(self.seconds, 3)))


class Runner:
    """Runs commands as argument lists, never through a shell, each with a time limit.

    ``run_command`` is a callable with the signature of
    ``AnsibleModule.run_command(args, cwd=None, environ_update=None)`` returning
    ``(rc, stdout, stderr)``. Without one, :mod:`subprocess` is used (tests, tools).

    Every command runs under coreutils ``timeout --kill-after=10 N`` (``timeout_bin``, found on
    PATH when not given): TERM after N seconds, KILL 10 seconds later, to the command's whole
    process group, and exit status 124 (or 137 after KILL) as coreutils documents it.
    ``run_command`` has no time limit of its own.
    """

    def __init__(self, run_command=None, base_env=None, timeout_bin=None):
        self._run_command = run_command
        self.base_env = dict(base_env or {})
        self.timeout_bin = timeout_bin or shutil.which("timeout")
        if not self.timeout_bin:
            raise Oxzep7Error("coreutils timeout is not on PATH; every command of oxzep7.python runs under it")

    def run(self, argv, cwd=None, env=None, check=True, what=None, timeout=TIMEOUT_PROBE):
        """Run ``argv`` (list of str) and return a :class:`CommandResult`.

        :param cwd: working directory (str) or None.
        :param env: variables (dict str to str) added to the environment.
        :param check: raise :class:`Oxzep7Error` when the exit status is not 0.
        :param what: a few words naming the step, used in the error message.
        :param timeout: seconds the command may run (int); see the ``TIMEOUT_*`` constants.
        :raises CommandTimeout: when the command ran out of time, whatever ``check`` says.
        :raises Oxzep7Error: on a non-zero exit status when ``check`` is true, or when it
            cannot be started (no fork, ``cwd`` not a directory).
        """
        argv = [str(a) for a in argv]
        if int(timeout) <= 0:  # coreutils timeout would take 0 as no limit at all
            raise Oxzep7Error("the time limit of %s must be a positive number of seconds, not %s"
                              % (what or argv[0], timeout))
        if cwd is not None and not os.path.isdir(cwd):  # run_command would run it elsewhere without a word
            raise Oxzep7Error("cannot run %s: its working directory %s is not a directory" % (what or argv[0], cwd),
                              cmd=argv, rc=None, stdout="", stderr="")
        wrapped = [self.timeout_bin, "--kill-after=%d" % KILL_AFTER, str(int(timeout))] + argv
        environ = dict(self.base_env)
        environ.update(env or {})
        started = time.monotonic()
        try:
            if self._run_command is not None:
                rc, out, err = self._run_command(wrapped, cwd=cwd, environ_update=environ)
            else:
                full_env = dict(os.environ)
                full_env.update(environ)
                proc = subprocess.run(wrapped, cwd=cwd, env=full_env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, universal_newlines=True, check=False)
                rc, out, err = proc.returncode, proc.stdout, proc.stderr
        except OSError as exc:  # no fork (EAGAIN, ENOMEM), a cwd that is gone
            raise Oxzep7Error("cannot run %s: %s" % (what or argv[0], exc), cmd=argv, rc=None,
                              stdout="", stderr=str(exc))
        result = CommandResult(argv, rc, out, err, time.monotonic() - started)
        if rc in (124, 128 + 9) and result.seconds >= int(timeout):
            raise CommandTimeout("%s timed out after %d s: %s" % (what or argv[0], int(timeout), " ".join(argv)),
                                 **result.as_dict())
        if check and rc != 0:
            raise Oxzep7Error("%s failed (rc=%s)" % (what or argv[0], rc), **result.as_dict())
        return result

    def run_json(self, argv, what, **kwargs):
        """Run ``argv`` and parse its stdout as JSON; raise :class:`Oxzep7Error` if it is not."""
        result = self.run(argv, what=what, **kwargs)
        try:
            return json.loads(result.stdout)
        except ValueError:
            raise Oxzep7Error("%s printed no JSON" % what, **result.as_dict())


def module_runner(module, base_env=None):
    """Adapt an ``AnsibleModule`` to a :class:`Runner` (argv lists, no variable expansion);
    coreutils ``timeout`` is found with ``get_bin_path`` (the module fails when it is missing)."""

    def run_command(argv, cwd=None, environ_update=None):
        # handle_exceptions=False: an OSError is raised to Runner.run instead of fail_json, which would
        # end the module from whatever thread runs the command (the imports gate's) and skip its clean-up.
        return module.run_command(argv, cwd=cwd, environ_update=environ_update,
                                  expand_user_and_vars=False, check_rc=False, handle_exceptions=False)

    return Runner(run_command, base_env=base_env, timeout_bin=module.get_bin_path("timeout", required=True))


def module_which(module):
    """Return a callable ``name -> path or None`` that finds a program with the module's
    ``get_bin_path`` (PATH plus the sbin directories), never failing the module itself."""
    return lambda name: module.get_bin_path(name, required=False)


def utc_stamp(epoch=None):
    """Return a UTC timestamp such as ``20261121T020000Z`` for ``epoch`` (seconds) or now."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch if epoch is not None else time.time()))


def write_text_atomic(path, text, mode=0o644):
    """Write the str ``text`` to ``path`` through a temporary file beside it, ``fsync`` and one
    ``rename()``: readers see the old file or the new one, never a part. ``mode``: the file's
    permission bits. Raises ``OSError`` when the directory is not writable or the disk is full;
    the temporary file is removed then."""
    tmp = "%s.tmp-%d" % (path, os.getpid())
    try:
        with open(tmp, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def write_json_atomic(path, data, mode=0o644):
    """Write ``data`` as JSON (indented, sorted keys) to ``path`` with :func:`write_text_atomic`."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n", mode)


def read_json(path, default=None):
    """Return the JSON in ``path``, or ``default`` when the file does not exist."""
    try:
        with open(path) as fh:
            return json.load(fh)
    except (IOError, OSError):
        return default


def remove_tree(path, parent):
    """Delete the directory ``path``, which must lie directly in the directory ``parent``.

    The guard every deletion of this collection goes through: right before the removal,
    ``os.lstat`` must show ``parent`` as a real directory (not a symlink to one) and ``path``
    as a real directory (not a symlink), and ``path`` must be ``parent/<one name>`` with no
    ``..``. ``shutil.rmtree`` then deletes it without following symlinks inside it.

    :param path: the directory to delete (str, absolute).
    :param parent: the directory of this collection it must be in (str, absolute), for example a
        releases directory or ``<backup_dir>/<slug>``.
    :returns: True when something was deleted, False when ``path`` did not exist.
    :raises Oxzep7Error: when ``path`` or ``parent`` is not what this collection made.
    """
    path, parent = os.path.normpath(path), os.path.normpath(parent)
    name = os.path.basename(path)
    if not os.path.isabs(path) or os.path.dirname(path) != parent or name in ("", ".", ".."):
        raise Oxzep7Error("refusing to delete %s: it is not a directory entry of %s" % (path, parent))
    for each, named in ((parent, parent), (path, "it")):  # the parent first, then the directory itself
        real = _real_dir(each)
        if real is None:
            return False
        if not real:
            raise Oxzep7Error("refusing to delete %s: %s is not a real directory (a symlink?)" % (path, named))
    shutil.rmtree(path)
    return True


def _real_dir(path):
    """Whether ``path`` is a real directory as ``os.lstat`` sees it (a symlink to one is not).

    :param path: the path to look at (str).
    :returns: True for a real directory, False for anything else (a symlink, a file), None when
        ``os.lstat`` fails (nothing is there, or it cannot be read). Raises nothing.
    """
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return None


def flock_within(fd, how, timeout, interval):
    """Take an ``flock`` on the open file ``fd`` within ``timeout`` seconds: a non-blocking try every
    ``interval`` seconds, so that the wait has its limit.

    :param how: ``fcntl.LOCK_EX`` or ``fcntl.LOCK_SH``.
    :param timeout: seconds (int or float); ``interval``: seconds between tries (float).
    :returns: True when the lock is taken, False when another holder kept it past ``timeout``.
    :raises OSError: for any failure but the lock being held (``EAGAIN``, ``EACCES``).
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, how | fcntl.LOCK_NB)
            return True
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def dir_locked(path):
    """Tell whether another open file holds an ``flock`` on the directory ``path`` (bool): a snapshot
    writer at work on its ``.partial`` directory, or reading a release (``_snapshot``).

    A symlink, a file or nothing at ``path`` is not locked. Raises nothing.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)

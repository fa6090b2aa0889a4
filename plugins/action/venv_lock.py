# -*- coding: utf-8 -*-
# Copyright: (c) 2026, oxzep7.python contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of ``oxzep7.python.venv_lock`` (and ``venv_upgrade``, which takes the same lock):
the owner, and the locks of runs that are gone."""

from __future__ import annotations

import getpass
import os
import socket

from ansible.plugins.action import ActionBase


def _alive(pid):
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, TypeError):
        return True  # someone else's process, or no pid recorded: assume it runs
    return True


def _number(value):
    """``value`` as an int when it is a whole number (an int, or a string of digits), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return int(value)
    return None


def awx_job(task_vars, environ):
    """The AWX (or AAP automation controller) job that runs this task, or None outside one.

    AWX gives every job the extra variables ``awx_job_id`` and ``awx_job_template_id`` (its
    ``Job.awx_meta_vars()``) and the environment variable ``AWX_HOST``, its own URL (``RunJob.build_env``).

    :param task_vars: the task's variables (dict).
    :param environ: the controller's environment (a mapping, ``os.environ``).
    :returns: dict ``{"url": AWX_HOST or "", "template": int, "job": int}``, or None when either id is missing
        or not a whole number.
    """
    template, job = _number(task_vars.get("awx_job_template_id")), _number(task_vars.get("awx_job_id"))
    if template is None or job is None:
        return None
    return dict(url=environ.get("AWX_HOST", ""), template=template, job=job)


def gone(owner, me):
    """Whether the run that holds a lock is known to be gone, so ``me`` may take its lock over.

    - Its ``ansible-playbook`` ran on this controller and its process is gone (killed, say).
    - Or it was an earlier job of the same AWX job template on the same AWX (``awx``, see :func:`awx_job`):
      AWX starts a job of a template only once the template's previous job has ended (cancelled,
      failed, its container gone), unless the template allows concurrent jobs. A sliced job's slices
      run at once but each on its own hosts, so they never meet at a venv's lock.

    :param owner: the ``owner`` dict the lock file names (untrusted: any shape).
    :param me: this run's owner dict (``controller``, ``pid``, ``user``, and ``awx`` in an AWX job).
    :returns: bool.
    """
    if owner.get("controller") == me["controller"] and not _alive(owner.get("pid")):
        return True
    theirs, mine = owner.get("awx"), me.get("awx")
    if not isinstance(theirs, dict) or not mine:
        return False
    job = _number(theirs.get("job"))
    return theirs.get("url") == mine["url"] and _number(theirs.get("template")) == mine["template"] \
        and job is not None and job < mine["job"]


class ActionModule(ActionBase):
    """Add the owner (this controller, its ansible-playbook pid, user, the AWX job) and take over the
    locks of runs that are gone."""

    MODULE = "oxzep7.python.venv_lock"

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        # Workers are forked from the ansible-playbook process: its pid is our parent's.
        me = dict(controller=socket.gethostname(), pid=os.getppid(), user=getpass.getuser())
        job = awx_job(self._templar.template(dict((k, task_vars.get(k)) for k in ("awx_job_id", "awx_job_template_id"))),
                      os.environ)
        if job:
            me["awx"] = job
        args.setdefault("owner", me)
        answer = self._execute_module(module_name=self.MODULE, module_args=args, task_vars=task_vars)
        held = answer.get("held") or {}
        owner = held.get("owner") if isinstance(held.get("owner"), dict) else {}
        if answer.get("failed") and held and gone(owner, me):
            args["steal"] = held
            answer = self._execute_module(module_name=self.MODULE, module_args=args,
                                          task_vars=task_vars)
        result.update(answer)
        return result

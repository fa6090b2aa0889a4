"""Fixtures for the end-to-end tests: an app venv with its service running on 127.0.0.1."""

import os
import subprocess

import pytest

from support import make_app_venv
from helpers import free_port


class App:
    """A live app: venv at ``stable`` on the old interpreter, served on ``port``."""

    def __init__(self, base, old_python, wheelhouse, requirements="requirements.txt"):
        self.base = base
        self.stable = os.path.join(base, "srv", "app", "venv")
        os.makedirs(os.path.dirname(self.stable))
        make_app_venv(self.stable, old_python, wheelhouse, requirements)
        self.port = free_port()
        self.pidfile = os.path.join(base, "app.pid")
        self.state_dir = os.path.join(base, "state")
        self.backup_dir = os.path.join(base, "backups")
        subprocess.run(self.service_argv("start"), check=True)

    def service_argv(self, action):
        return [os.path.join(self.stable, "bin", "python"), "-m", "demoapp.service", action,
                str(self.port), self.pidfile]

    def venv_entry(self, **extra):
        entry = dict(path=self.stable, imports=["demoapp", "flask", "sqlalchemy", "pydantic", "requests"],
                     smoke_commands=[["python", "-m", "demoapp.selftest"]],
                     restart_commands=[self.service_argv("restart")],
                     health_url="http://127.0.0.1:%d/health" % self.port)
        entry.update(extra)
        return entry

    def host_vars(self, pyenv_root, wheelhouse, **extra):
        hv = dict(upgrade_python_version="3.12", upgrade_pyenv_root=pyenv_root, upgrade_no_index=True,
                  upgrade_find_links=[wheelhouse], upgrade_installer_isolated=True,
                  upgrade_only_binary=True, upgrade_state_dir=self.state_dir,
                  upgrade_backup_dir=self.backup_dir, upgrade_health_retries=3, upgrade_health_delay=1,
                  upgrade_venvs=[self.venv_entry()])
        hv.update(extra)
        return hv

    def stop(self):
        subprocess.run(self.service_argv("stop"), check=False)


@pytest.fixture
def app(tmp_path, old_python, wheelhouse):
    live = App(str(tmp_path), old_python, wheelhouse)
    yield live
    live.stop()

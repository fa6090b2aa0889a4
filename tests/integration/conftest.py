"""Fixtures for the end-to-end tests: an app venv with its service running on 127.0.0.1."""

import pytest

from helpers import App


@pytest.fixture
def app(tmp_path, old_python, wheelhouse):
    live = App(str(tmp_path), old_python, wheelhouse)
    yield live
    live.stop()

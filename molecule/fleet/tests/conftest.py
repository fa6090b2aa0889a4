import pytest
import testinfra


@pytest.fixture
def host_for():
    """Return a testinfra host for a container name (podman backend: one podman exec per command)."""
    return lambda name: testinfra.get_host("podman://" + name)

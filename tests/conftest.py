"""Shared fixtures: a guest root built once per session, a way to run vkernel,
and `k`, a kernel booted on the fake platform for the unit tests."""
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def vkernel_cmd(*args):
    return [sys.executable, "-m", "vkernel", *args]


def run_vk(root, *command, args=(), input=None, timeout=120, env=None):
    """Run `vkernel -r root [args] -- command` and return the CompletedProcess."""
    cmd = vkernel_cmd("-r", root, *args, "--", *command)
    e = dict(os.environ, PYTHONPATH=REPO)
    e.update(env or {})
    return subprocess.run(cmd, input=input, capture_output=True, timeout=timeout,
                          env=e, cwd=REPO)


@pytest.fixture(scope="session")
def guest_bins(tmp_path_factory):
    from guest.build import build_all
    return build_all(str(tmp_path_factory.mktemp("guestbin")))


@pytest.fixture(scope="session")
def root(tmp_path_factory, guest_bins):
    """A root directory made by `vkernel mkroot` (busybox, /etc, guest programs)."""
    dest = str(tmp_path_factory.mktemp("root"))
    subprocess.run(vkernel_cmd("mkroot", dest), check=True, cwd=REPO,
                   env=dict(os.environ, PYTHONPATH=REPO), capture_output=True)
    return dest


@pytest.fixture
def k():
    """A FakeKernel (tests/unit/fakekernel.py, on sys.path in the unit tests
    that use it); after the test, the fake platform must have seen no errors."""
    from fakekernel import FakeKernel
    kern = FakeKernel()
    yield kern
    assert not kern.platform.errors
    kern.shutdown()

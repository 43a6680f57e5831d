"""Integration fixtures: one real stack (emulator over HTTP, API, event runner, worker processes) per session."""
import pytest

from tests.stackutil import ApiUser, start_stack, stop_stack_process


@pytest.fixture(scope="session")
def stack():
    """The running stack."""
    running = start_stack()
    yield running
    stop_stack_process(running.process)


@pytest.fixture
def user(stack):
    """A fresh registered user."""
    return ApiUser(stack.api_url)

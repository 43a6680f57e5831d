"""Integration fixtures: a fresh API user on the session's stack (see tests/conftest.py)."""

import pytest

from tests.openapi_check import answers_match_the_document  # noqa: F401 (an autouse fixture)
from tests.stackutil import ApiUser


@pytest.fixture
def user(stack):
    """A fresh registered user."""
    return ApiUser(stack.api_url)

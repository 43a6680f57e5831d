"""End-to-end fixtures (the stack is tests/conftest.py's): CLI users, and the creator's motion capture and avatar runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.helpers import CliUser, Result, make_person_video


@pytest.fixture
def cli(stack, tmp_path):
    """A fresh registered user of the CLI."""
    return CliUser(stack.api_url, tmp_path / "config").register()


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    """A directory of test media made in code (see the make_* helpers)."""
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def creator(stack, tmp_path_factory):
    """The user whose motion capture and avatar the ANIMATE test combines: (user, project id, outputs dir)."""
    user = CliUser(stack.api_url, tmp_path_factory.mktemp("creator")).register()
    return user, user.project("creator"), tmp_path_factory.mktemp("creator-outputs")


@pytest.fixture(scope="session")
def mocap_run(creator, media_dir) -> Result:
    """`ai3d run MOTION_CAPTURE --input astronaut.mp4 --wait` by the creator."""
    user, project, out = creator
    return user.run_and_wait("MOTION_CAPTURE", project, out / "mocap", "--input", make_person_video(media_dir))


@pytest.fixture(scope="session")
def avatar_run(creator) -> Result:
    """`ai3d run TEXT_TO_AVATAR --prompt ... --wait` by the creator."""
    user, project, out = creator
    return user.run_and_wait(
        "TEXT_TO_AVATAR", project, out / "avatar", "--prompt", "a tall knight in silver armour", "--param", "seed=3"
    )

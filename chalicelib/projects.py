"""Projects: a user's folders of assets and jobs."""

from __future__ import annotations

import uuid

from pynamodb.expressions.update import Action

from chalicelib import assets, jobs, views
from chalicelib.contract import keys
from chalicelib.errors import ValidationError
from chalicelib.ownership import get_owned
from chalicelib.paging import page
from chalicelib.store.db import Asset, Job, Project, now_iso
from chalicelib.tokens import Principal


def _text(data: dict, field: str, max_len: int, required: bool) -> str | None:
    value = data.get(field)
    if value is None:
        if required:
            raise ValidationError(f"{field} is required", code="INVALID_" + field.upper())
        return None
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > max_len:
        raise ValidationError(
            f"{field} must be a string of at most {max_len} characters" + (" and not blank" if required else ""),
            code="INVALID_" + field.upper(),
        )
    return value.strip()


def create(principal: Principal, data: dict) -> dict:
    """Create a project owned by the caller."""
    name = _text(data, "name", 100, required=True)
    description = _text(data, "description", 2000, required=False) or ""
    project_id, now = str(uuid.uuid4()), now_iso()
    project = Project(
        *keys.project(project_id),
        id=project_id,
        owner_id=principal.user_id,
        name=name,
        description=description,
        created_at=now,
        updated_at=now,
        gsi1pk=keys.user_partition(principal.user_id),
        gsi1sk=keys.listed(keys.PROJECT_PREFIX, now, project_id),
    )
    project.save(condition=Project.pk.does_not_exist())
    return views.project(project)


def get(principal: Principal, project_id: str) -> Project:
    """A project the caller may see, or NotFound."""
    return get_owned(Project, *keys.project(project_id), principal, "project")


def list_mine(principal: Principal, params: dict) -> dict:
    """The caller's projects, newest first, paginated."""
    items, token = page(
        Project.by_parent,
        "gsi1pk",
        keys.user_partition(principal.user_id),
        params,
        Project.gsi1sk.startswith(keys.PROJECT_PREFIX),
    )
    return {"items": [views.project(p) for p in items], "nextToken": token}


def update(principal: Principal, project_id: str, data: dict) -> dict:
    """Rename or re-describe a project."""
    project = get(principal, project_id)
    name = _text(data, "name", 100, required=False) if "name" in data else None
    if "name" in data and not name:
        raise ValidationError("name must not be blank", code="INVALID_NAME")
    description = _text(data, "description", 2000, required=False)
    actions: list[Action] = [Project.updated_at.set(now_iso())]
    if name:
        actions.append(Project.name.set(name))
    if description is not None:
        actions.append(Project.description.set(description))
    project.update(actions=actions, condition=Project.pk.exists())
    return views.project(project)


def delete(principal: Principal, project_id: str) -> None:
    """Cancel the project's running jobs, delete its assets' objects and records, then the project."""
    project = get(principal, project_id)
    for job in Job.by_parent.query(keys.project_partition(project.id), Job.gsi1sk.startswith(keys.JOB_PREFIX)):
        jobs.cancel_if_running(job, reason="the project was deleted")
    for asset in Asset.by_parent.query(keys.project_partition(project.id), Asset.gsi1sk.startswith(keys.ASSET_PREFIX)):
        assets.remove(asset)
    project.delete()

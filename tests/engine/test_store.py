"""Workflows and immutable versions, owner-scoped, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from connectflow_dagster import spec
from connectflow_dagster.errors import NotFound
from connectflow_dagster.store.db import current_revision, get_engine, head_revision, session_scope
from connectflow_dagster.store.workflows import (
    delete_workflow,
    get_workflow,
    list_versions,
    list_workflows,
    restore_version,
    save_workflow,
)

pytestmark = pytest.mark.usefixtures("backend")


def make(name="W", value=1, id=None):
    return spec.parse_workflow(
        {
            "id": id,
            "name": name,
            "nodes": [
                {"id": "start", "type": "trigger.manual", "name": "Start"},
                {"id": "s", "type": "set", "name": "S", "params": {"fields": {"v": value}}},
            ],
            "edges": [{"source": "start", "target": "s"}],
        }
    )


def test_schema_is_migrated_to_head(cf):
    assert current_revision(get_engine()) == head_revision()


def test_identical_content_creates_no_new_version(cf):
    owner = cf.new_user()
    with session_scope() as s:
        first = save_workflow(s, owner, make())
        again = save_workflow(s, owner, make(id=first.workflow.id))
        changed = save_workflow(s, owner, make(value=2, id=first.workflow.id))
    assert first.created and not again.created and changed.created
    assert again.version.id == first.version.id
    assert (first.version.number, changed.version.number) == (1, 2)
    assert first.version.content_hash != changed.version.content_hash


def test_versions_are_immutable_and_restorable(cf):
    owner = cf.new_user()
    with session_scope() as s:
        v1 = save_workflow(s, owner, make(value=1))
        wid = v1.workflow.id
        save_workflow(s, owner, make(value=2, id=wid))
        restored = restore_version(s, owner, wid, 1)
        versions = list_versions(s, owner, wid)
    assert restored.version.id == v1.version.id  # same content → the same immutable version
    assert [v.number for v in versions] == [2, 1]
    assert versions[1].spec["nodes"][1]["params"] == {"fields": {"v": 1}}


def test_other_owners_cannot_see_or_take_over_a_workflow(cf):
    alice, bob = cf.new_user(), cf.new_user()
    with session_scope() as s:
        saved = save_workflow(s, alice, make())
        wid = saved.workflow.id
        with pytest.raises(NotFound):
            get_workflow(s, bob, wid)
        with pytest.raises(NotFound):
            save_workflow(s, bob, make(id=wid))
        with pytest.raises(NotFound):
            list_versions(s, bob, wid)
        assert list_workflows(s, bob)[1] == 0


def test_list_search_and_soft_delete(cf):
    owner = cf.new_user()
    with session_scope() as s:
        a = save_workflow(s, owner, make(name="Stripe to Slack"))
        save_workflow(s, owner, make(name="Form to Sheet"))
        rows, total = list_workflows(s, owner, search="stripe")
        assert total == 1 and rows[0].id == a.workflow.id
        delete_workflow(s, owner, a.workflow.id)
        assert list_workflows(s, owner)[1] == 1
        with pytest.raises(NotFound):
            get_workflow(s, owner, a.workflow.id)

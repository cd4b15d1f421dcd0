"""Problems with what a workflow refers to among its owner's other workflows (checked at save, shown
with the other validation problems): its error workflow (exists, same owner, has an Error Trigger)
and cycles of sub-workflow calls its literal Execute Workflow nodes close."""

from __future__ import annotations

from sqlalchemy.orm import Session

from connectflow_dagster import spec
from connectflow_dagster.dispatch.calls import call_problems
from connectflow_dagster.dispatch.error_workflow import error_workflow_problems
from connectflow_dagster.errors import Problem


def reference_problems(session: Session, owner_id: str, workflow: spec.Workflow) -> list[Problem]:
    return [
        *error_workflow_problems(session, owner_id, workflow),
        *call_problems(session, owner_id, workflow),
    ]

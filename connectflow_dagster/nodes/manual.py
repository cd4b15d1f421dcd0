"""Manual trigger: the editor's and the API's "Execute", passing its input on."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from connectflow_dagster.nodes.base import NodeContext, NodeType, Params
from connectflow_dagster.nodes.ingress import Ingress, TriggerPanel


class ManualParams(Params):
    default_input: dict[str, Any] = Field(
        default_factory=dict, description="Used when the run is started without an input."
    )


def execute(params: ManualParams, ctx: NodeContext) -> Any:
    return ctx.trigger_input if ctx.trigger_input not in (None, {}) else params.default_input


node = NodeType(
    type="trigger.manual",
    display_name="Manual trigger",
    group="trigger",
    description="Starts the workflow by hand (editor, CLI, API) with an optional JSON input.",
    params=ManualParams,
    execute=execute,
    icon="play",
    # Not an ingest route: the URL is the workflows API's execute endpoint (signed-in owner).
    ingress=Ingress(
        url="/api/workflows/{workflow_id}/execute",
        served=False,
        context=lambda event, params: event.body,
        panel=TriggerPanel(
            url_label="Press Execute (optionally with a JSON input), or call",
            method_shown=True,
        ),
    ),
)

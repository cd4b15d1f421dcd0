"""``GET /api/node-types``: the node catalogue, each type with its JSON Schema."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.deps import RegistryDep
from gateway.schemas.node_types import NodeTypePublic, NodeTypesPublic

router = APIRouter(prefix="/api/node-types", tags=["node types"])


@router.get("", response_model=NodeTypesPublic)
def list_node_types(registry: RegistryDep) -> NodeTypesPublic:
    """Every installed node type: display name, group, params and output JSON Schema, credential type."""
    items = [NodeTypePublic(**entry) for entry in registry.catalogue()]
    return NodeTypesPublic(data=items, count=len(items))

"""Demo content: a workflow that produces a week of sales step by step, and four saved
widgets showing it live (chart, metric, table, text). Called by the demo seed."""

from __future__ import annotations

from workflows.models import Tenant, Workflow
from workflows.services import create_workflow

from .models import Widget

DEMO_WORKFLOW = "Weekly sales (widget demo)"
WEEKS = [("W1", 120), ("W2", 135), ("W3", 128), ("W4", 160)]


def demo_definition(*, pause: str = "1s") -> dict:
    """Trigger -> W1 -> sleep -> W2 -> sleep -> W3 -> sleep -> W4: one data point per node."""
    nodes = [{"id": "trigger", "type": "trigger", "label": "Trigger", "config": {}, "position": {"x": 0, "y": 0}}]
    for i, (label, sales) in enumerate(WEEKS):
        if i:
            nodes.append(
                {
                    "id": f"pause{i}",
                    "type": "sleep",
                    "label": f"Pause {i}",
                    "config": {"duration": pause},
                    "position": {"x": 200 * len(nodes), "y": 0},
                }
            )
        nodes.append(
            {
                "id": label.lower(),
                "type": "set",
                "label": label,
                "config": {"values": {"week": label, "sales": sales, "region": "{{Trigger.region}}"}},
                "position": {"x": 200 * len(nodes), "y": 0},
            }
        )
    edges = [{"source": a["id"], "target": b["id"]} for a, b in zip(nodes, nodes[1:])]
    return {"nodes": nodes, "edges": edges}


def chart_config() -> dict:
    return {
        "title": "Sales per week",
        "mark": {"type": "bar", "tooltip": True},
        "data": {"values": [f"{{{{ctx.{label}}}}}" for label, _ in WEEKS]},
        "encoding": {
            "x": {"field": "week", "type": "ordinal", "title": "Week"},
            "y": {"field": "sales", "type": "quantitative", "title": "Sales"},
        },
    }


def create_demo(*, tenant: Tenant, user=None, pause: str = "1s") -> list[Widget]:
    """Create (once per tenant) the demo workflow and its widgets; returns the widgets."""
    workflow = Workflow.objects.filter(tenant=tenant, name=DEMO_WORKFLOW).first()
    if workflow is None:
        workflow = create_workflow(
            tenant=tenant,
            name=DEMO_WORKFLOW,
            definition=demo_definition(pause=pause),
            user=user,
            description="Produces one week of sales per node, for the live widget demo.",
        )
    existing = list(Widget.objects.filter(tenant=tenant, workflow=workflow))
    if existing:
        return existing
    specs = [
        ("Sales per week", "vega-lite", chart_config()),
        (
            "Latest week",
            "metric",
            {
                "label": "Sales, latest week",
                "value": "{{ctx.W4.sales}}",
                "previous": "{{ctx.W3.sales}}",
                "format": "number",
            },
        ),
        (
            "Weeks so far",
            "table",
            {
                "columns": [{"key": "week", "label": "Week"}, {"key": "sales", "label": "Sales"}],
                "rows": [f"{{{{ctx.{label}}}}}" for label, _ in WEEKS],
            },
        ),
        (
            "About",
            "text",
            {
                "markdown": "## Weekly sales\n\nRegion **{{ctx.Trigger.region}}**. Press *Run*: "
                "each node adds a week and the widgets update live."
            },
        ),
    ]
    return [
        Widget.objects.create(
            tenant=tenant,
            workflow=workflow,
            name=name,
            widget_type=kind,
            config=config,
            input_params={"region": "North"},
            position=i,
            created_by=user,
        )
        for i, (name, kind, config) in enumerate(specs)
    ]


def ensure_widget_demo(*, tenant: Tenant, user=None) -> list[Widget]:
    """The seed's entry point (settings-free, safe to run again)."""
    return create_demo(tenant=tenant, user=user)

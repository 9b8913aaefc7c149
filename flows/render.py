"""The 业务流程图 of a flow, drawn with Graphviz (first cut: one box per step)."""

from __future__ import annotations

import shutil

import graphviz

from flows.definition import FlowDefinition


class RenderUnavailable(RuntimeError):
    """Graphviz (the `dot` program) is not installed on this machine."""


def flowchart(definition: FlowDefinition) -> graphviz.Digraph:
    graph = graphviz.Digraph(definition.id, graph_attr={"rankdir": "TB", "label": definition.name,
                                                        "labelloc": "t", "fontname": "Noto Sans CJK SC"},
                             node_attr={"shape": "box", "fontname": "Noto Sans CJK SC"})
    previous = None
    for index, step in enumerate(definition.steps):
        node = f"s{index}"
        graph.node(node, step.title)
        if previous:
            graph.edge(previous, node)
        previous = node
    return graph


def render_bytes(definition: FlowDefinition, fmt: str) -> bytes:
    if shutil.which("dot") is None:
        raise RenderUnavailable("未安装 Graphviz（dot 命令），无法生成流程图")
    return flowchart(definition).pipe(format=fmt)

"""Load YAML into plain Python values while keeping the line:column of every node.

PyYAML's composer gives a node tree with start marks; we build the values ourselves so each
mapping key and each value can be found again by its path (``("events", 0, "name")``).
Duplicate mapping keys are reported instead of silently keeping the last one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]
Pos = tuple[int, int]


@dataclass
class Located:
    """The document's value plus where each path's value (and mapping key) starts."""

    value: Any
    values: dict[Path, Pos] = field(default_factory=dict)
    keys: dict[Path, Pos] = field(default_factory=dict)
    duplicates: list[tuple[Path, Pos]] = field(default_factory=list)

    def where(self, path: Path, *, key: bool = False) -> Pos:
        """Position of ``path``; falls back to the nearest enclosing node that is known."""
        table = self.keys if key else self.values
        for n in range(len(path), -1, -1):
            prefix = path[:n]
            if prefix in table:
                return table[prefix]
            if prefix in self.values:
                return self.values[prefix]
        return (1, 1)


class YamlSyntaxError(Exception):
    def __init__(self, message: str, pos: Pos) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


def _pos(node: yaml.Node) -> Pos:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def load_located(text: str) -> Located:
    """Parse one YAML document; raises ``YamlSyntaxError`` with a position."""
    try:
        loader = yaml.SafeLoader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise YamlSyntaxError(f"YAML syntax error: {exc.problem or exc}", pos) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"YAML syntax error: {exc}", (1, 1)) from None
    located = Located(None)
    if root is not None:
        located.value = _build(root, (), located, loader)
    return located


def _build(node: yaml.Node, path: Path, out: Located, loader: yaml.SafeLoader) -> Any:
    out.values[path] = _pos(node)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            # Keys are kept as written: `1:` or `yes:` are the strings "1" and "yes".
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
            child = (*path, key)
            if key in result:
                out.duplicates.append((child, _pos(key_node)))
                continue
            out.keys[child] = _pos(key_node)
            result[key] = _build(value_node, child, out, loader)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), out, loader) for i, item in enumerate(node.value)]
    return _scalar(node, loader)


def _scalar(node: yaml.Node, loader: yaml.SafeLoader) -> Any:
    if node.tag == "tag:yaml.org,2002:timestamp":
        return node.value  # keep dates as written: a plan version "2025-01-31" is a string
    return loader.construct_object(node, deep=True)

"""Conditions on form values, written in flow files as small expressions.

    when = "days > 3"
    when = "amount >= 100000 and category != '服务'"
    when = "'student' in applicant_roles"

Only names, literals, comparisons, arithmetic, `and`/`or`/`not` and `in` are allowed, so a flow
file can never run code. A missing (unanswered or skipped) value compares as false.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
_ARITHMETIC: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
}


_COMPOUND = ast.BoolOp | ast.Compare | ast.BinOp | ast.UnaryOp | ast.List | ast.Tuple


class ConditionError(ValueError):
    """The expression is not a valid condition."""


class _Missing:
    """An unanswered value: every comparison with it is false."""


MISSING = _Missing()


@dataclass(frozen=True)
class Condition:
    source: str
    tree: ast.expr
    names: frozenset[str]

    def evaluate(self, values: Mapping[str, Any]) -> bool:
        try:
            return _truthy(_evaluate(self.tree, values))   # a bare unanswered name is false
        except (TypeError, ZeroDivisionError):
            return False


def parse_condition(source: str) -> Condition:
    try:
        tree = ast.parse(source.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ConditionError(f"表达式语法错误：{source!r}") from exc
    names: set[str] = set()
    _check(tree, names, source)
    return Condition(source=source, tree=tree, names=frozenset(names))


def _check(node: ast.AST, names: set[str], source: str) -> None:
    if isinstance(node, ast.Name):
        names.add(node.id)
    elif isinstance(node, ast.Constant):
        if not isinstance(node.value, str | int | float | bool) and node.value is not None:
            raise ConditionError(f"不支持的常量：{source!r}")
    elif isinstance(node, _COMPOUND):
        if isinstance(node, ast.BinOp) and type(node.op) not in _ARITHMETIC:
            raise ConditionError(f"不支持的运算符：{source!r}")
        if isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.Not | ast.USub):
            raise ConditionError(f"不支持的运算符：{source!r}")
        if isinstance(node, ast.Compare) and any(type(op) not in _COMPARE for op in node.ops):
            raise ConditionError(f"不支持的比较：{source!r}")
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr_context | ast.boolop | ast.cmpop | ast.operator
                          | ast.unaryop):
                continue
            _check(child, names, source)
    else:
        raise ConditionError(f"条件只能包含字段名、常量、比较和 and/or/not：{source!r}")


def _evaluate(node: ast.expr, values: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in ("True", "False"):
            return node.id == "True"
        value = values.get(node.id, MISSING)
        return MISSING if value is None else value
    if isinstance(node, ast.List | ast.Tuple):
        return [_evaluate(item, values) for item in node.elts]
    if isinstance(node, ast.BoolOp):
        results = (_truthy(_evaluate(item, values)) for item in node.values)
        return all(results) if isinstance(node.op, ast.And) else any(results)
    if isinstance(node, ast.UnaryOp):
        operand = _evaluate(node.operand, values)
        if isinstance(node.op, ast.Not):
            return not _truthy(operand)
        return MISSING if operand is MISSING else -operand
    if isinstance(node, ast.BinOp):
        left, right = _evaluate(node.left, values), _evaluate(node.right, values)
        if MISSING in (left, right):
            return MISSING
        return _ARITHMETIC[type(node.op)](left, right)
    if isinstance(node, ast.Compare):
        left = _evaluate(node.left, values)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _evaluate(comparator, values)
            if left is MISSING or right is MISSING:
                return False
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    raise ConditionError(ast.dump(node))


def _truthy(value: Any) -> bool:
    return value is not MISSING and bool(value)

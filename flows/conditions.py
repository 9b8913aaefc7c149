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
from dataclasses import dataclass, field
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


Compiled = Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True)
class Condition:
    source: str
    tree: ast.expr
    names: frozenset[str]
    #: the tree as nested closures: evaluated for every question of every turn, they cost a
    #: fraction of walking the tree each time
    compiled: Compiled = field(compare=False, repr=False)

    def evaluate(self, values: Mapping[str, Any]) -> bool:
        try:
            return _truthy(self.compiled(values))   # a bare unanswered name is false
        except (TypeError, ZeroDivisionError):
            return False


def parse_condition(source: str) -> Condition:
    try:
        tree = ast.parse(source.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ConditionError(f"表达式语法错误：{source!r}") from exc
    names: set[str] = set()
    _check(tree, names, source)
    return Condition(source=source, tree=tree, names=frozenset(names), compiled=_compile(tree))


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


def _compile(node: ast.expr) -> Compiled:
    """`node` (checked by `_check`) as a function of the values."""
    if isinstance(node, ast.Constant):
        constant = node.value
        return lambda values: constant
    if isinstance(node, ast.Name):
        if node.id in ("True", "False"):
            truth = node.id == "True"
            return lambda values: truth
        name = node.id

        def value_of(values: Mapping[str, Any]) -> Any:
            value = values.get(name, MISSING)
            return MISSING if value is None else value
        return value_of
    if isinstance(node, ast.List | ast.Tuple):
        items = [_compile(item) for item in node.elts]
        return lambda values: [item(values) for item in items]
    if isinstance(node, ast.BoolOp):
        parts = [_compile(item) for item in node.values]
        if isinstance(node.op, ast.And):
            return lambda values: all(_truthy(part(values)) for part in parts)
        return lambda values: any(_truthy(part(values)) for part in parts)
    if isinstance(node, ast.UnaryOp):
        operand = _compile(node.operand)
        if isinstance(node.op, ast.Not):
            return lambda values: not _truthy(operand(values))

        def negative(values: Mapping[str, Any]) -> Any:
            value = operand(values)
            return MISSING if value is MISSING else -value
        return negative
    if isinstance(node, ast.BinOp):
        left, right, apply = _compile(node.left), _compile(node.right), _ARITHMETIC[type(node.op)]

        def arithmetic(values: Mapping[str, Any]) -> Any:
            a, b = left(values), right(values)
            return MISSING if a is MISSING or b is MISSING else apply(a, b)
        return arithmetic
    if isinstance(node, ast.Compare):
        first = _compile(node.left)
        steps = [(_COMPARE[type(op)], _compile(comparator))
                 for op, comparator in zip(node.ops, node.comparators, strict=True)]

        def compare(values: Mapping[str, Any]) -> bool:
            left = first(values)
            for test, comparator in steps:
                right = comparator(values)
                if left is MISSING or right is MISSING or not test(left, right):
                    return False
                left = right
            return True
        return compare
    raise ConditionError(ast.dump(node))


def _truthy(value: Any) -> bool:
    return value is not MISSING and bool(value)

"""Evaluate a figure's qualitative claims over measured series: holds / fails / inconclusive."""
from __future__ import annotations

import ast
import math
from typing import Callable


class Missing(Exception):
    """A value the claim needs was not measured."""


ALLOWED_NODES = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.BinOp, ast.Add, ast.Sub,
    ast.Mult, ast.Div, ast.Compare, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq, ast.Call, ast.Name,
    ast.Load, ast.Constant,
)


def check_expression(expr: str, functions: set[str]) -> ast.Expression:
    """Parse a claim; only arithmetic, comparisons and the named functions are allowed."""
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as e:
        raise ValueError(f"claim {expr!r} is not a valid expression: {e.msg}") from None
    for node in ast.walk(tree):
        if not isinstance(node, ALLOWED_NODES):
            raise ValueError(f"claim {expr!r} uses {type(node).__name__}, which claims may not use")
        if isinstance(node, ast.Name) and node.id not in functions | {"inf"}:
            raise ValueError(f"claim {expr!r} names {node.id!r}; available: {sorted(functions)}")
    return tree


def evaluate(expr: str, functions: dict[str, Callable]) -> str:
    tree = check_expression(expr, set(functions))
    try:
        value = eval(compile(tree, "<claim>", "eval"), {"__builtins__": {}}, {**functions, "inf": math.inf})
    except Missing:
        return "inconclusive"
    return "holds" if value else "fails"

"""Cost expressions: a whitelisted arithmetic language compiled to vectorised JAX functions.

A prior-file class with ``method = "expression"`` gives its FLOP/s as text, e.g.
``flops_per_second = "synapses * rate * flop_per_spike"``. The text is parsed with
Python's :mod:`ast` and walked over an allow-list (never ``eval``): numbers, field
names, ``+ - * / **``, unary ``-``/``+``, parentheses and the functions
:data:`FUNCTIONS`. Anything else (attribute access, subscripts, lambdas,
comparisons, keyword arguments, strings, unknown names or functions) raises
:class:`ExpressionError` naming the offending token. Limits are checked in the one parse every
caller shares: at most :data:`MAX_LENGTH` characters and :data:`MAX_DEPTH` levels of nesting; the
compiled postfix program runs without recursion, so what parses also traces.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import jax.numpy as jnp
import numpy as np
from jax import Array

__all__ = ["FUNCTIONS", "REDUCERS", "MAX_DEPTH", "MAX_LENGTH", "Expression", "ExpressionError", "parse_expression"]

MAX_LENGTH = 2000  # characters
# nesting levels of the syntax tree (``a + b + c`` is 3 deep; ``sqrt(-a)`` 3): checked at parse time, so what
# parses also evaluates and traces (a postfix program, no recursion); generous for any published formula
MAX_DEPTH = 100

# name -> (function, least and most positional arguments)
FUNCTIONS: dict[str, tuple[Callable[..., Array], int, int]] = {
    "log": (jnp.log, 1, 1),
    "log10": (jnp.log10, 1, 1),
    "exp": (jnp.exp, 1, 1),
    "sqrt": (jnp.sqrt, 1, 1),
    "min": (lambda *xs: _fold(jnp.minimum, xs), 2, 16),
    "max": (lambda *xs: _fold(jnp.maximum, xs), 2, 16),
}

# evidence quantities see per-class fields as vectors (last axis: classes) and reduce them, keeping that
# axis (length 1: one number per draw, which broadcasts against one class's field ``class.field``)
REDUCERS: dict[str, tuple[Callable[..., Array], int, int]] = {
    "sum": (lambda x: jnp.sum(x, axis=-1, keepdims=True), 1, 1),
    "mean": (lambda x: jnp.mean(x, axis=-1, keepdims=True), 1, 1),
}

_BINARY = {ast.Add: jnp.add, ast.Sub: jnp.subtract, ast.Mult: jnp.multiply, ast.Div: jnp.divide, ast.Pow: jnp.power}
_UNARY = {ast.USub: jnp.negative, ast.UAdd: jnp.positive}
_OPERATOR_TEXT = {
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.MatMult: "@",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.Invert: "~",
    ast.Not: "not",
}


class ExpressionError(ValueError):
    """An expression outside the allowed language; ``str()`` is one line naming the offending token."""


def _fold(f, xs):  # min/max of 2-16 arguments: a loop, not a recursion
    out = xs[0]
    for x in xs[1:]:
        out = f(out, x)
    return out


@dataclass(frozen=True)
class Expression:
    """A compiled cost expression: its text, the field names it reads, and ``__call__(values) -> Array``.

    ``program`` is the expression in postfix order (``("const", number, 0)``, ``("name", field, 0)``,
    ``("apply", function, arity)``), run on a value stack: evaluating it never recurses, however the
    expression nests."""

    text: str
    names: tuple[str, ...]
    program: tuple[tuple[str, object, int], ...] = field(repr=False)
    depth: int = 0  # nesting depth of the syntax tree (a number or a name: 1), at most MAX_DEPTH

    def __call__(self, values: Mapping[str, Array]) -> Array:
        """Evaluate elementwise (values broadcast: scalars or arrays of one shape)."""
        stack: list = []
        for kind, item, arity in self.program:
            if kind == "const":
                with np.errstate(over="ignore", under="ignore"):  # past float32 in a float32 run: inf, no warning
                    stack.append(jnp.asarray(item))
            elif kind == "name":
                stack.append(values[item])
            else:
                args = stack[len(stack) - arity :]
                del stack[len(stack) - arity :]
                stack.append(item(*args))
        return stack[0]


def parse_expression(text: str, functions: dict | None = None, dotted: bool = False) -> Expression:
    """Parse ``text`` over the allow-list (``functions``: :data:`FUNCTIONS` unless given); raise
    :class:`ExpressionError` on anything else, on more than :data:`MAX_LENGTH` characters or on a syntax
    tree deeper than :data:`MAX_DEPTH`. With ``dotted``, ``owner.field`` is a name too (an evidence
    quantity's one class's field: the name ``"owner.field"``). The one parse every caller shares (cached
    by text)."""
    functions = FUNCTIONS if functions is None else functions
    if not isinstance(text, str):
        raise ExpressionError(f"expected a string, got {type(text).__name__}")
    return _parse(text, tuple(functions.items()), dotted)


@lru_cache(maxsize=512)
def _parse(text: str, functions: tuple, dotted: bool = False) -> Expression:
    if not text.strip():
        raise ExpressionError("is empty")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"is {len(text)} characters long, over the limit of {MAX_LENGTH}")
    if "\n" in text or "\r" in text:
        raise ExpressionError("must be one line")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        where = f" at column {exc.offset}" if exc.offset else ""
        raise ExpressionError(f"is not an arithmetic expression ({exc.msg}{where})") from None
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError(f"is nested too deeply or malformed (at most {MAX_DEPTH} levels)") from None
    depth = _depth(tree.body)
    if depth > MAX_DEPTH:
        raise ExpressionError(f"is nested {depth} levels deep, over the limit of {MAX_DEPTH}")
    names: list[str] = []
    program: list[tuple[str, object, int]] = []
    _compile(tree.body, names, dict(functions), program, text.strip(), dotted)
    return Expression(text, tuple(dict.fromkeys(names)), tuple(program), depth)


def _depth(root: ast.AST) -> int:
    """Nesting depth of the expression nodes under ``root`` (itself 1), walked without recursion."""
    deepest, todo = 0, [(root, 1)]
    while todo:
        node, level = todo.pop()
        deepest = max(deepest, level)
        todo.extend((child, level + 1) for child in ast.iter_child_nodes(node) if isinstance(child, ast.expr))
    return deepest


def _compile(
    node: ast.AST, names: list[str], functions: dict, program: list, source: str, dotted: bool = False
) -> None:
    """Append ``node``'s postfix program to ``program`` (recursion bounded by :data:`MAX_DEPTH`)."""
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ExpressionError(f"'{_token(node)}' is not a number (only numbers, field names and {_ops()})")
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            shown = (ast.get_source_segment(source, node) or "?")[:30]
            raise ExpressionError(f"the number '{shown}' is beyond float64 (at most 1.8e308)")
        program.append(("const", number, 0))
        return
    if isinstance(node, ast.Name):
        if node.id in functions:
            raise ExpressionError(f"'{node.id}' is a function; call it, e.g. {node.id}(x)")
        names.append(node.id)
        program.append(("name", node.id, 0))
        return
    if dotted and isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        name = f"{node.value.id}.{node.attr}"
        names.append(name)
        program.append(("name", name, 0))
        return
    if isinstance(node, ast.BinOp):
        op = _BINARY.get(type(node.op))
        if op is None:
            raise ExpressionError(f"operator '{_OPERATOR_TEXT.get(type(node.op), '?')}' is not allowed ({_ops()})")
        _compile(node.left, names, functions, program, source, dotted)
        _compile(node.right, names, functions, program, source, dotted)
        program.append(("apply", op, 2))
        return
    if isinstance(node, ast.UnaryOp):
        op = _UNARY.get(type(node.op))
        if op is None:
            raise ExpressionError(f"operator '{_OPERATOR_TEXT.get(type(node.op), '?')}' is not allowed ({_ops()})")
        _compile(node.operand, names, functions, program, source, dotted)
        program.append(("apply", op, 1))
        return
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            raise ExpressionError(f"'{_token(node.func)}' is not an allowed function ({', '.join(functions)})")
        fname = node.func.id
        if fname not in functions:
            raise ExpressionError(f"'{fname}' is not an allowed function ({', '.join(functions)})")
        if node.keywords:
            raise ExpressionError(f"'{fname}' takes no keyword arguments")
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise ExpressionError(f"'{fname}' takes no starred arguments")
        f, least, most = functions[fname]
        if not least <= len(node.args) <= most:
            want = str(least) if least == most else f"{least} to {most}"
            raise ExpressionError(f"'{fname}' takes {want} arguments, got {len(node.args)}")
        for a in node.args:
            _compile(a, names, functions, program, source, dotted)
        program.append(("apply", f, len(node.args)))
        return
    raise ExpressionError(
        f"'{_token(node)}' is not allowed (only numbers, field names, {_ops()} and calls of {', '.join(functions)})"
    )


def _ops() -> str:
    return "+ - * / ** and parentheses"


def _token(node: ast.AST) -> str:
    try:
        text = ast.unparse(node)
    except Exception:  # noqa: BLE001 - any node ast cannot print is named by its type
        text = type(node).__name__
    return text if len(text) <= 30 else text[:27] + "..."

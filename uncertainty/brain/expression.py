"""Cost expressions: a whitelisted arithmetic language compiled to vectorised JAX functions.

A prior-file class with ``method = "expression"`` gives its FLOP/s as text, e.g.
``flops_per_second = "synapses * rate * flop_per_spike"``. The text is parsed with
Python's :mod:`ast` and walked over an allow-list (never ``eval``): numbers, field
names, ``+ - * / **``, unary ``-``/``+``, parentheses and the functions
:data:`FUNCTIONS`. Anything else (attribute access, subscripts, lambdas,
comparisons, keyword arguments, strings, unknown names or functions) raises
:class:`ExpressionError` naming the offending token.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import jax.numpy as jnp
from jax import Array

__all__ = ["FUNCTIONS", "REDUCERS", "MAX_LENGTH", "Expression", "ExpressionError", "parse_expression"]

MAX_LENGTH = 2000  # characters

# name -> (function, least and most positional arguments)
FUNCTIONS: dict[str, tuple[Callable[..., Array], int, int]] = {
    "log": (jnp.log, 1, 1),
    "log10": (jnp.log10, 1, 1),
    "exp": (jnp.exp, 1, 1),
    "sqrt": (jnp.sqrt, 1, 1),
    "min": (lambda *xs: _fold(jnp.minimum, xs), 2, 16),
    "max": (lambda *xs: _fold(jnp.maximum, xs), 2, 16),
}

# evidence quantities see per-class fields as vectors (last axis: classes) and reduce them
REDUCERS: dict[str, tuple[Callable[..., Array], int, int]] = {
    "sum": (lambda x: jnp.sum(x, axis=-1), 1, 1),
    "mean": (lambda x: jnp.mean(x, axis=-1), 1, 1),
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


def _fold(f, xs):
    out = xs[0]
    for x in xs[1:]:
        out = f(out, x)
    return out


@dataclass(frozen=True)
class Expression:
    """A compiled cost expression: its text, the field names it reads, and ``__call__(values) -> Array``."""

    text: str
    names: tuple[str, ...]
    _fn: Callable[[Mapping[str, Array]], Array]

    def __call__(self, values: Mapping[str, Array]) -> Array:
        """Evaluate elementwise (values broadcast: scalars or arrays of one shape)."""
        return self._fn(values)


def parse_expression(text: str, functions: dict | None = None) -> Expression:
    """Parse ``text`` over the allow-list (``functions``: :data:`FUNCTIONS` unless given); raise
    :class:`ExpressionError` on anything else."""
    functions = FUNCTIONS if functions is None else functions
    if not isinstance(text, str):
        raise ExpressionError(f"expected a string, got {type(text).__name__}")
    if not text.strip():
        raise ExpressionError("is empty")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"is longer than {MAX_LENGTH} characters")
    if "\n" in text or "\r" in text:
        raise ExpressionError("must be one line")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        where = f" at column {exc.offset}" if exc.offset else ""
        raise ExpressionError(f"is not an arithmetic expression ({exc.msg}{where})") from None
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError("is nested too deeply or malformed") from None
    names: list[str] = []
    try:
        fn = _compile(tree.body, names, functions)
    except RecursionError:
        raise ExpressionError("is nested too deeply") from None
    return Expression(text, tuple(dict.fromkeys(names)), fn)


def _compile(node: ast.AST, names: list[str], functions: dict) -> Callable[[Mapping[str, Array]], Array]:
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ExpressionError(f"'{_token(node)}' is not a number (only numbers, field names and {_ops()})")
        number = float(value)
        return lambda v: jnp.asarray(number)
    if isinstance(node, ast.Name):
        if node.id in functions:
            raise ExpressionError(f"'{node.id}' is a function; call it, e.g. {node.id}(x)")
        names.append(node.id)
        name = node.id
        return lambda v: v[name]
    if isinstance(node, ast.BinOp):
        op = _BINARY.get(type(node.op))
        if op is None:
            raise ExpressionError(f"operator '{_OPERATOR_TEXT.get(type(node.op), '?')}' is not allowed ({_ops()})")
        left, right = _compile(node.left, names, functions), _compile(node.right, names, functions)
        return lambda v: op(left(v), right(v))
    if isinstance(node, ast.UnaryOp):
        op = _UNARY.get(type(node.op))
        if op is None:
            raise ExpressionError(f"operator '{_OPERATOR_TEXT.get(type(node.op), '?')}' is not allowed ({_ops()})")
        operand = _compile(node.operand, names, functions)
        return lambda v: op(operand(v))
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
        args = [_compile(a, names, functions) for a in node.args]
        return lambda v: f(*(a(v) for a in args))
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

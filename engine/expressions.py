"""Safe expressions: an allow-list checker and a small interpreter for diagram expressions.

SpiffWorkflow evaluates gateway conditions, timer expressions, service-task parameters and
message payloads with Python `eval`, which lets a diagram run any code on the server
(ENGINE_NOTES.md, "Expressions are Python eval/exec"). Here an expression is parsed with `ast`,
checked against an allow-list, and then interpreted node by node: nothing is ever handed to
`eval`, `exec` or `compile`.
"""

import ast
import operator
from collections import ChainMap
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

from engine.exceptions import ExpressionFailed, ExpressionRejected, GovFlowError

MAX_LENGTH = 500
MAX_DEPTH = 50
# Longest str/list/tuple that `*` may build; stops "'a' * 1000000"-style memory bombs.
MAX_REPEAT = 10_000

_CONSTANT_TYPES = (str, int, float, bool, type(None))
_BIN_OPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}
_UNARY_OPS = {ast.Not: operator.not_, ast.USub: operator.neg, ast.UAdd: operator.pos}
_COMPARE_OPS = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
# Plain names for refused constructs: (Chinese, English).
_REFUSED = {
    ast.Lambda: ("匿名函数（lambda）", "lambda functions"),
    **dict.fromkeys((ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp), ("推导式", "comprehensions")),
    **dict.fromkeys((ast.JoinedStr, ast.FormattedValue), ("格式化字符串（f-string）", "f-strings")),
    ast.NamedExpr: ("赋值表达式（:=）", "assignment expressions (:=)"),
    ast.Starred: ("展开运算（*）", "unpacking (*)"),
    ast.Await: ("await", "await"),
    **dict.fromkeys((ast.Yield, ast.YieldFrom), ("yield", "yield")),
    ast.Pow: ("乘方运算（**）", "the power operator (**)"),
}
_SYMBOLS = {ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^",
            ast.MatMult: "@", ast.Invert: "~"}


def _shown(expression: str) -> str:
    return expression if len(expression) <= 80 else expression[:77] + "…"


def check_expression(expression: str, function_names: Iterable[str]) -> ast.Expression:
    """Parse `expression` and check every node against the allow-list; raise ExpressionRejected."""
    if not isinstance(expression, str):
        raise ExpressionRejected("表达式必须是一段文字。", "An expression must be text.")
    text = expression.strip()
    if len(text) > MAX_LENGTH:
        raise ExpressionRejected(
            f"表达式“{_shown(text)}”太长（{len(text)} 个字符，最多 {MAX_LENGTH} 个）。",
            f'The expression "{_shown(text)}" is too long ({len(text)} characters, at most {MAX_LENGTH}).',
        )
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        detail = getattr(exc, "msg", None) or str(exc) or type(exc).__name__
        raise ExpressionRejected(
            f"表达式“{_shown(text)}”不是合法的表达式：{detail}。",
            f'The expression "{_shown(text)}" is not a valid expression: {detail}.',
        ) from None
    _Checker(text, frozenset(function_names)).check(tree.body, 1)
    return tree


class _Checker:
    """Walks a parsed expression top-down and refuses anything not on the allow-list."""

    def __init__(self, expression: str, function_names: frozenset[str]):
        self.expression = expression
        self.function_names = function_names

    def refuse(self, what_zh: str, what_en: str) -> ExpressionRejected:
        shown = _shown(self.expression)
        return ExpressionRejected(f"表达式“{shown}”中不允许使用{what_zh}。", f'The expression "{shown}" may not use {what_en}.')

    def check(self, node: ast.AST, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise ExpressionRejected(
                f"表达式“{_shown(self.expression)}”嵌套过深（超过 {MAX_DEPTH} 层）。",
                f'The expression "{_shown(self.expression)}" is nested too deeply (more than {MAX_DEPTH} levels).',
            )
        children: list[ast.AST] = []
        if isinstance(node, ast.Constant):
            if not isinstance(node.value, _CONSTANT_TYPES):
                name = type(node.value).__name__
                raise self.refuse(f"这种常量（{name}）", f"constants of type {name}")
        elif isinstance(node, ast.Name):
            if node.id.startswith("_"):
                raise self.refuse(f"以下划线开头的名称（{node.id}）", f"names starting with an underscore ({node.id})")
        elif isinstance(node, ast.Attribute):
            raise self.refuse(f"属性访问（.{node.attr}）", f"attribute access (.{node.attr})")
        elif isinstance(node, ast.BoolOp):
            children = node.values
        elif isinstance(node, ast.UnaryOp):
            self.check_operator(node.op, _UNARY_OPS)
            children = [node.operand]
        elif isinstance(node, ast.BinOp):
            self.check_operator(node.op, _BIN_OPS)
            children = [node.left, node.right]
        elif isinstance(node, ast.Compare):
            for op in node.ops:
                self.check_operator(op, _COMPARE_OPS)
            children = [node.left, *node.comparators]
        elif isinstance(node, ast.IfExp):
            children = [node.test, node.body, node.orelse]
        elif isinstance(node, ast.Subscript):
            self.check_index(node.slice)
            children = [node.value, node.slice]
        elif isinstance(node, ast.Slice):
            children = [part for part in (node.lower, node.upper, node.step) if part is not None]
        elif isinstance(node, ast.List | ast.Tuple | ast.Set):
            children = node.elts
        elif isinstance(node, ast.Dict):
            if any(key is None for key in node.keys):
                raise self.refuse("字典展开（**）", "dictionary unpacking (**)")
            children = [*node.keys, *node.values]
        elif isinstance(node, ast.Call):
            self.check_call(node, depth)
            children = [*node.args, *(kw.value for kw in node.keywords)]
        elif type(node) in _REFUSED:
            raise self.refuse(*_REFUSED[type(node)])
        else:
            name = type(node).__name__
            raise self.refuse(f"这种写法（{name}）", f"this construct ({name})")
        for child in children:
            self.check(child, depth + 1)

    def check_operator(self, op: ast.AST, allowed: Mapping) -> None:
        if type(op) in _REFUSED:
            raise self.refuse(*_REFUSED[type(op)])
        if type(op) not in allowed:
            symbol = _SYMBOLS.get(type(op), type(op).__name__)
            raise self.refuse(f"运算符 {symbol}", f"the operator {symbol}")

    def check_index(self, index: ast.AST) -> None:
        """Only `x['key']`, `x[name]`, `x[-1]` and slices of such constants may go inside [ ]."""
        if isinstance(index, ast.Slice):
            parts = [p for p in (index.lower, index.upper, index.step) if p is not None]
            if all(self.is_simple_constant(p) for p in parts):
                return
        elif self.is_simple_constant(index) or isinstance(index, ast.Name):
            return
        raise self.refuse("复杂的下标（[ ] 里只能写常量或变量名）", "complex subscripts (only a constant or a name may go inside [ ])")

    @staticmethod
    def is_simple_constant(node: ast.AST) -> bool:
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            node = node.operand
        return isinstance(node, ast.Constant)

    def check_call(self, node: ast.Call, depth: int) -> None:
        if not isinstance(node.func, ast.Name):
            # Report what the callee is made of (attribute access, lambda…) before the call itself.
            self.check(node.func, depth + 1)
            raise self.refuse("对未登记函数的调用", "calls to anything but a registered function")
        name = node.func.id
        if name not in self.function_names:
            raise self.refuse(f"未登记的函数 {name}()", f"the function {name}(), which is not registered")
        if any(kw.arg is None for kw in node.keywords):
            raise self.refuse("关键字展开（**）", "keyword unpacking (**)")


@lru_cache(maxsize=2048)
def _checked(expression: str, function_names: frozenset[str]) -> ast.Expression:
    # Checked trees are cached: the same gateway condition is evaluated on every instance.
    return check_expression(expression, function_names)


def evaluate_expression(expression: str, context: Mapping[str, Any], functions: Mapping[str, Callable]) -> Any:
    """Check `expression`, then interpret it with names from `context`, then `functions`.

    Raises ExpressionRejected for anything outside the allow-list and ExpressionFailed when an
    allowed expression cannot be evaluated (unknown name, division by zero, wrong types…).
    """
    tree = _checked(expression, frozenset(functions))
    shown = _shown(expression.strip())
    try:
        return _Interpreter(expression, context, functions).run(tree.body)
    except ZeroDivisionError:
        raise ExpressionFailed(f"表达式“{shown}”中出现了除以零。", f'The expression "{shown}" divides by zero.') from None
    except KeyError as exc:
        key = exc.args[0] if exc.args else ""
        raise ExpressionFailed(
            f"表达式“{shown}”中找不到键 {key!r}。", f'The expression "{shown}" looks up the key {key!r}, which does not exist.'
        ) from None
    except IndexError:
        raise ExpressionFailed(
            f"表达式“{shown}”中的下标超出了范围。", f'The expression "{shown}" uses an index that is out of range.'
        ) from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise ExpressionFailed(
            f"表达式“{shown}”无法计算（{exc}）。", f'The expression "{shown}" could not be evaluated ({exc}).'
        ) from None


class _Interpreter:
    """Evaluates an already-checked tree; every node type here was allowed by _Checker."""

    def __init__(self, expression: str, context: Mapping[str, Any], functions: Mapping[str, Callable]):
        self.shown = _shown(expression.strip())
        self.context = context
        self.functions = functions

    def fail(self, message_zh: str, message_en: str) -> ExpressionFailed:
        return ExpressionFailed(f"表达式“{self.shown}”{message_zh}", f'The expression "{self.shown}" {message_en}')

    def run(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in self.context:
                return self.context[node.id]
            if node.id in self.functions:
                return self.functions[node.id]
            raise ExpressionFailed(
                f"表达式“{self.shown}”中的变量“{node.id}”未定义。",
                f'In the expression "{self.shown}", the variable "{node.id}" is not defined.',
            )
        if isinstance(node, ast.BoolOp):
            # Short-circuit like Python: return the first deciding value.
            value = None
            for operand in node.values:
                value = self.run(operand)
                if isinstance(node.op, ast.And) != bool(value):
                    return value
            return value
        if isinstance(node, ast.UnaryOp):
            return _UNARY_OPS[type(node.op)](self.run(node.operand))
        if isinstance(node, ast.BinOp):
            return self.binary(node.op, self.run(node.left), self.run(node.right))
        if isinstance(node, ast.Compare):
            left = self.run(node.left)
            for op, comparator in zip(node.ops, node.comparators, strict=True):
                right = self.run(comparator)
                if not _COMPARE_OPS[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return self.run(node.body) if self.run(node.test) else self.run(node.orelse)
        if isinstance(node, ast.Subscript):
            return self.run(node.value)[self.run(node.slice)]
        if isinstance(node, ast.Slice):
            parts = (node.lower, node.upper, node.step)
            return slice(*(None if part is None else self.run(part) for part in parts))
        if isinstance(node, ast.List):
            return [self.run(elt) for elt in node.elts]
        if isinstance(node, ast.Tuple):
            return tuple(self.run(elt) for elt in node.elts)
        if isinstance(node, ast.Set):
            return {self.run(elt) for elt in node.elts}
        if isinstance(node, ast.Dict):
            return {self.run(key): self.run(value) for key, value in zip(node.keys, node.values, strict=True)}
        if isinstance(node, ast.Call):
            # Call the registered function itself, never a same-named value from the task data.
            function = self.functions[node.func.id]
            args = [self.run(arg) for arg in node.args]
            kwargs = {kw.arg: self.run(kw.value) for kw in node.keywords}
            return function(*args, **kwargs)
        raise self.fail("中含有无法计算的写法。", "contains something that cannot be evaluated.")  # unreachable

    def binary(self, op: ast.operator, left: Any, right: Any) -> Any:
        if isinstance(op, ast.Mult):
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, str | bytes | list | tuple) and isinstance(count, int):
                    if count > MAX_REPEAT or len(seq) * count > MAX_REPEAT:
                        raise self.fail(
                            f"会产生过长的结果（超过 {MAX_REPEAT} 个元素）。",
                            f"would build a result longer than {MAX_REPEAT} items.",
                        )
        if isinstance(op, ast.Mod) and isinstance(left, str | bytes):
            # '%999999999d' % 1 would build a gigabyte string; text formatting is not needed here.
            raise self.fail("中不允许用 % 格式化文字。", "may not format text with %.")
        return _BIN_OPS[type(op)](left, right)


class SafeEnvironment(BasePythonScriptEngineEnvironment):
    """SpiffWorkflow environment that interprets expressions safely, refuses scripts and routes services."""

    def __init__(self, functions: Mapping[str, Callable] | None = None, service_caller: Callable | None = None):
        super().__init__()
        self.functions = dict(functions or {})
        self.service_caller = service_caller

    @property
    def function_names(self) -> frozenset[str]:
        return frozenset(self.functions)

    def evaluate(self, expression, context, external_context=None):
        """Evaluate `expression`; task data (`context`) wins over data objects (`external_context`).

        Same precedence as SpiffWorkflow's TaskDataEnvironment, so diagrams behave the same.
        """
        return evaluate_expression(expression, ChainMap(context, external_context or {}), self.functions)

    def execute(self, script, context, external_context=None):
        """Always refuse: scripts in diagrams never run."""
        raise ExpressionRejected("流程图中的脚本不被允许执行。", "Scripts in diagrams are not allowed to run.")

    def call_service(self, context, operation_name=None, operation_params=None, **kwargs):
        """Hand the service call to `service_caller`, which returns a JSON string."""
        if self.service_caller is None:
            raise ExpressionFailed(
                f"服务“{operation_name}”没有可用的处理程序。", f'No handler is available for the service "{operation_name}".'
            )
        return self.service_caller(operation_name, operation_params, context)


class SafeScriptEngine(PythonScriptEngine):
    """PythonScriptEngine over a SafeEnvironment that lets GovFlow errors through unwrapped."""

    def __init__(self, functions: Mapping[str, Callable] | None = None, service_caller: Callable | None = None,
                 recorder=None):
        super().__init__(environment=SafeEnvironment(functions, service_caller))
        # A DeadlineRecorder learns which task an expression belongs to (what a timer was computed from).
        self.recorder = recorder

    def validate(self, expression):
        """Raise ExpressionRejected unless `expression` passes the allow-list."""
        check_expression(expression, self.environment.function_names)

    def evaluate(self, task, expression, external_context=None):
        """Evaluate against the task's data; GovFlowError passes through so callers see our message."""
        if self.recorder is not None:
            self.recorder.current_task_id = str(task.id)
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except GovFlowError:
            raise
        except SpiffWorkflowException as exc:
            exc.add_note(f"Error evaluating expression '{expression}'")
            raise
        except Exception as exc:
            raise WorkflowTaskException(f"Error evaluating expression '{expression}'", task=task, exception=exc) from exc
        finally:
            if self.recorder is not None:
                self.recorder.current_task_id = None

    def execute(self, task, script, external_context=None):
        """Refuse the script with ExpressionRejected, unwrapped."""
        return self.environment.execute(script, task.data, external_context or {})

    def call_service(self, task, **kwargs):
        """Call the service; errors propagate unchanged (the base version hides them behind a NameError)."""
        return self.environment.call_service(task.data, **kwargs)

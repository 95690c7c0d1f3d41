"""Helpers built once: a user helper that the normalizer calls instead of inlining it again
(``normalize.inline``, ``INLINE_LIMIT``) becomes a ``HelperPrimitive``, a primitive whose rules
are generated from the helper itself: its adjoint calls srcad's reverse-mode derivative of the
helper (``dh_dx(x, w, seed=d[y])``, which recomputes the helper's primal), its tangent the
forward-mode one (``dh_dx_fwd(x, w, d[x])``), both with respect to the parameters active at
the call site (``instantiate.template_for``). The derivatives are srcad's own (``api.autodiff``, bound in
``derivative`` by ``api``), so they are built once, cached and checked fresh like any other;
built calling at every site the helpers the build that first called this one measured past
the limit (``Spec.called``), so a helper calling another twice, n levels deep, makes n small
builds, not n builds each inlining the levels below.

Input: a plain Python function with positional parameters only, returning one value.
Output: its ``HelperPrimitive`` (one per function) with a ``registry.Rule``.
"""
from __future__ import annotations

import inspect
import linecache
import threading
import weakref
from collections.abc import Callable
from typing import Any

from .registry import Rule, attach, d
from .template import Template, parse_template

__all__ = ["HelperPrimitive", "helper_primitive", "derivative"]

# api._helper_derivative (autodiff with Spec.called), set by api when it is imported (this
# module sits below api)
derivative: Callable[..., Any] | None = None

_LOCK = threading.Lock()
_PRIMITIVES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class HelperPrimitive:
    """User helper ``fn`` as a primitive: calling it calls ``fn``; ``rule`` its rules."""

    def __init__(self, fn):
        self.fn = fn
        self.__wrapped__ = fn
        self.__name__ = fn.__name__
        self.__qualname__ = getattr(fn, "__qualname__", fn.__name__)
        self.__module__ = getattr(fn, "__module__", None) or ""
        self.params = list(inspect.signature(fn).parameters)
        self.templates: dict[tuple, Template] = {}
        # helpers the build that first called fn measured past INLINE_LIMIT (-> statements):
        # fn's derivatives call them at every site (``normalize.inline``)
        self.called: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.everything = tuple(range(len(self.params)))
        self.rule = _HelperRule(self, extra={"helper": self}, complex_ok=True)  # srcad's own
        attach(self.rule)                                                       # convention

    def __call__(self, *args):
        return self.fn(*args)

    def note_called(self, sizes: dict) -> None:
        """Helpers (-> statements) a build calling this one measured past the inlining
        limit, until its first derivative is built (then they are fixed)."""
        with _LOCK:
            if not self.templates:
                for g, n in sizes.items():
                    if g is not self.fn:
                        self.called[g] = n

    def template(self, kind: str, active: tuple) -> Template:
        """The ``kind`` rule with respect to the parameters at positions ``active``."""
        key = (kind, active)
        with _LOCK:
            found = self.templates.get(key)
        if found is not None:
            return found
        assert derivative is not None, "srcad.api binds called_helpers.derivative"
        name = self.fn.__name__
        params = self.params
        wrt = [params[i] for i in active]
        out = "_" + name
        while out in params:
            out = "_" + out
        stem = f"d{name}_" + "_".join(f"d{p}" for p in wrt) if wrt else f"d{name}"
        if kind == "adjoint":
            callee = stem
            lines = [f"    _g = {callee}({', '.join(params)}, seed=d[{out}])"]
            lines += [f"    d[{p}] = _g" + (f"[{i}]" if len(wrt) > 1 else "")
                      for i, p in enumerate(wrt)]
            mode = "reverse"
        else:
            callee = stem + "_fwd"
            lines = [f"    d[{out}] = {callee}({', '.join(params + [f'd[{p}]' for p in wrt])})"]
            mode = "forward"
        text = f"def {name}_{kind}({', '.join([out] + params)}):\n" + "\n".join(lines) + "\n"
        filename = f"<srcad rule of helper {name} {kind} {'-'.join(map(str, active))} " \
                   f"{id(self):x}>"
        linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
        with _LOCK:
            called = tuple(sorted(self.called.items(), key=lambda item: (
                getattr(item[0], "__qualname__", ""), id(item[0]))))
        namespace = {"d": d, "__name__": filename,
                     callee: derivative(self.fn, mode,
                                       active[0] if len(active) == 1 else tuple(active), called)}
        exec(compile(text, filename, "exec"), namespace)
        made = parse_template(namespace[f"{name}_{kind}"], 1, kind)
        with _LOCK:
            return self.templates.setdefault(key, made)


class _HelperRule(Rule):
    """A called helper's rule: its templates, with respect to all the helper's parameters,
    are made when first read (each builds a derivative of the helper: a reverse-mode build
    never builds the forward one, nor a forward-mode build the reverse one unless it reads
    how many values the helper returns)."""

    @property
    def adjoint(self) -> Template:
        helper = self.extra["helper"]
        return helper.template("adjoint", helper.everything)

    @adjoint.setter
    def adjoint(self, value) -> None:           # Rule.__init__ sets the default, None
        assert value is None

    @property
    def tangent(self) -> Template:
        helper = self.extra["helper"]
        return helper.template("tangent", helper.everything)

    @tangent.setter
    def tangent(self, value) -> None:
        assert value is None


def helper_primitive(fn) -> HelperPrimitive:
    """The one ``HelperPrimitive`` of ``fn``."""
    with _LOCK:
        found = _PRIMITIVES.get(fn)
    if found is None:
        made = HelperPrimitive(fn)
        with _LOCK:
            found = _PRIMITIVES.setdefault(fn, made)
    return found


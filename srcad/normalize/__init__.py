"""Normalize: gast FunctionDef -> the same function in A-normal form, ready for the transformers.

Stages, in order: the fence (reject what srcad does not support, with the user's location and
what to write instead), desugaring (augmented and chained assignment, array methods and
attributes to NumPy calls, helper functions inlined from their own source), ANF, and renaming
of straight-line redefinitions so each value keeps its own name.

ANF guarantees, for the returned FunctionDef body (recursively inside if/for/while):
* every statement is one of
  ``name = simple`` / ``a, b = call`` (multi-output primitive) / ``name[index] = atom`` /
  ``lst.append(atom)`` / ``return atom-or-tuple-of-atoms`` / ``if atom:`` / ``for name in atom:``
  / ``while atom:`` (the test is recomputed at the end of the body) / ``break`` / ``continue``;
* ``simple`` is an atom, one call with atom arguments (``node.srcad_callee`` holds the resolved
  callable), one binary/unary operator or comparison over atoms, ``atom[index]`` with an index
  of atoms and slices, a list/tuple of atoms, or an opaque non-differentiable expression
  (``x.shape``, ``a and b``) marked ``srcad_opaque``;
* an atom is a Name, a literal, or a module attribute kept as written (``np.pi``);
* every statement has ``lineno`` of the user's line it came from.

With ``SRCAD_VERIFY=1`` these guarantees are checked (``analysis.anf_violations``).

The modules, in the order a function meets them: ``closures`` (nested defs and lambdas as
local functions, inlined where called), ``sugar`` (``match``, ``del``, ``global``, local
imports, ``:=``), ``comprehensions`` (to loops),
``containers`` (container parameters by
their leaves, containers with constant keys to names), ``fence`` (refusals), ``jumps``
(``return``/``break``/``continue`` to flags), ``statements``, ``loops``, ``anf``
(expressions), ``calls`` (callee resolution, methods), ``lifting`` (partials of local
values, local functions differentiated inside), ``inline`` (user helpers), ``scope``
(names and references), ``rename`` (straight-line redefinitions); ``program`` holds the
result, ``Program``.
"""
from __future__ import annotations

import builtins
import copy

import gast

from ..naming import Namer, names_in
from ..source import Source
from ..template import clone
from .calls import METHODS
from .closures import LocalFunction, local_functions
from .comprehensions import lower_comprehensions
from .trys import lower_reraising_try
from .containers import lower_containers
from .fence import fence
from .jumps import _lower_returns
from .messages import mark_messages
from .loops import Loops
from .program import Program, _has, _loc_error, assigned_names, default_nodes
from .rename import _rename_redefinitions
from .scope import _defaults, _Scope
from .sugar import lower_sugar

__all__ = ["normalize", "copy_program", "Program", "METHODS", "default_nodes",
           "assigned_names", "fence"]


class _Normalizer(Loops):
    """One normalization: the main function and the helpers inlined into it. A class in
    layers, each a module over the one before: ``scope.Resolver`` (state, names),
    ``anf.Expressions``, ``inline.Inliner``, ``calls.Calls``, ``statements.Statements``,
    ``loops.Loops``."""


def normalize(src: Source, structures: dict | None = None,
              callables: dict | None = None, called: dict | None = None,
              constants: dict | None = None, types: dict | None = None) -> Program:
    """Fence, desugar and convert ``src`` to ANF (see the module docstring); ``structures``
    (parameter name -> ``trees.structure``) are the container arguments it is built for,
    ``callables`` (parameter or leaf name -> a function) the functions passed that it calls,
    ``called`` (helper -> statements its first inlining made, past ``INLINE_LIMIT``) the
    helpers it calls at every site (``Inliner.built_once``), not inlined first, ``constants``
    (parameter or leaf name -> a str) the str values it is built for, read as constants,
    ``types`` (parameter name -> a class) the types of arguments it is built for, which
    ``isinstance`` and ``type(p) is ...`` of those parameters read."""
    fdef = clone(src.node)       # the parse is shared by the builds (api._wrap): a copy
    lower_reraising_try(src, fdef)
    own = local_functions(src, fdef)
    lower_sugar(src, fdef)
    lower_comprehensions(src, fdef)
    mark_messages(src, fdef)
    norm = _Normalizer(src, Namer(set()))       # its namer once the names are known
    norm.passed = dict(callables or {})
    norm.sizes.update(called or {})
    output = lower_containers(src, fdef, structures or {}, output=True,
                              functions=frozenset(callables or ()), constants=constants,
                              outputs=norm.helper_output, local=frozenset(own), types=types)
    containers = fdef.srcad_containers
    fence(src, fdef)
    taken = names_in(fdef) | set(src.namespace.cells)
    namer = Namer(taken)
    norm.namer = namer
    norm.refs.update(src.namespace.imports)      # `import numpy as jnp` in the function
    norm.deps += fdef.srcad_deps                 # classes whose calls made containers
    _lower_returns(fdef, namer)
    norm.main_locals = assigned_names(fdef)
    norm.main_rebound = assigned_names(fdef.body)
    norm.main_defaults = _defaults(src.fn)
    scope = _Scope(src, src.namespace, {}, foreign=False, depth=0)
    scope.containers = containers
    scope.local_functions = {n: LocalFunction(f, scope) for n, f in own.items()}
    fdef.body = norm.body(scope, fdef.body)
    if fdef.body and isinstance(fdef.body[-1], gast.Raise) and not _has(fdef.body, gast.Return):
        # every path raises for the arguments it is built for (a str decided it: ``else:
        # raise ValueError(mode)``): the derivative raises too, its return never reached
        fdef.body.append(gast.copy_location(gast.Return(value=gast.Constant(value=0.0,
                                                                            kind=None)),
                                            fdef.body[-1]))
    if not fdef.body or not isinstance(fdef.body[-1], (gast.Return, gast.If)):
        if not _has(fdef.body, gast.Return):
            raise _loc_error(src, src.node, f"{src.node.name} has no return statement",
                             "Return the value to differentiate.")
    _rename_redefinitions(fdef, namer)
    for name in list(builtins.__dict__):
        namer.taken.add(name)
    program = Program(src, fdef, namer, norm.refs, norm.deps, norm.ref, norm.origins)
    program.output = output
    return program


def copy_program(program: Program) -> Program:
    """A copy of ``program`` (``normalize``'s result) that the later stages may change
    without touching it: its tree cloned, its namer, references and dependencies copied, and
    ``ref`` binding new references in the copy's. A build that normalizes what another
    build just normalized (the generic derivative, then the first call's, specialized on
    shapes) takes a copy instead: a tenth of normalizing again."""
    norm = copy.copy(program.ref.__self__)      # the _Normalizer whose ``ref`` binds names
    namer = Namer()
    namer.taken = set(program.namer.taken)
    namer._derived = dict(program.namer._derived)
    namer._next = dict(program.namer._next)
    norm.namer, norm.refs, norm.deps = namer, dict(program.refs), list(program.deps)
    new = Program(program.source, clone(program.node), namer, norm.refs, norm.deps, norm.ref,
                  program.origins)
    new.output = program.output
    return new

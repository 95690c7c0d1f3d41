"""The reverse transformer's state: the static ``_State`` of the adjoint sweep, the ``_Save``
records of overwritten values, and the names, tapes and located errors every part of the
transformer uses (``_Base``).

Input: a normalized ``Program``, its activity and ``analysis.shapes``. Output: nothing of its
own; the sweeps (``primal``, ``adjoint``, ``control``, ``assemble``) build on it.
"""
from __future__ import annotations

import gast
import numpy as np

from .. import runtime
from ..analysis import list_names, maybe_list_names, walk
from ..errors import NoRuleError
from ..instantiate import Broadcasts, runtime_ref
from ..nodes import assign as _assign, attr as _attr, call as _call, name as _name
from .guards import where_guards


class _State:
    """Static facts at a point of the adjoint sweep."""

    def __init__(self, defined=(), owned=()):
        self.defined = set(defined)   # adjoint names holding a value
        self.owned = set(owned)       # adjoint buffers created by the sweep (in-place ok)

    def copy(self):
        return _State(self.defined, self.owned)


class _Save:
    """A value saved before the primal sweep overwrites it (kept if the adjoint reads it)."""

    index: object       # set by the save: the subscript of ``x[index] = v``, or None
    tape: str           # set by a save on the tape: the tape's name

    def __init__(self, name, on_tape, local):
        self.name = name          # the overwritten variable
        self.on_tape = on_tape    # inside a loop: push/pop; else a local copy
        self.local = local        # the local holding the saved value (when not on the tape)
        self.self_read = False    # the statement's own adjoint reads the saved value


class _Base:
    """What the layers of the reverse transformer share."""

    primal_of: dict     # set by ``run``: adjoint name -> the primal name it belongs to
    saved_names: set    # set by ``prune_saves``: the variables whose saves are kept

    def __init__(self, program, wrt, act, grad_seed: bool, preserve_result: bool, shapes):
        self.p = program
        self.src = program.source
        self.namer = program.namer
        self.act = act
        self.wrt = wrt
        self.grad_seed = grad_seed
        self.preserve_result = preserve_result
        self.lists = list_names(program.node, shapes)
        self.maybe_lists = maybe_list_names(program.node, shapes, self.lists)
        # parameters of unknown kind (a generic variant's) whose type the code tests
        # (isinstance(x, tuple), type(x), not folded): a list or tuple at the call, maybe,
        # though another branch uses them as arrays; their adjoint contributions add item
        # by item (runtime.plus)
        a = program.node.args
        tested = {n.args[0].id for n in walk(program.node) if isinstance(n, gast.Call)
                  and isinstance(n.func, gast.Name) and n.func.id in ("isinstance", "type")
                  and n.args and isinstance(n.args[0], gast.Name)}
        self.unknown_kind = {p.id for p in a.posonlyargs + a.args + a.kwonlyargs} & tested - \
            set(shapes or ()) - self.lists
        # names the code binds to None (generated code being differentiated again binds a
        # name before the loop defining it): their adjoint may be a number, not an array
        self.maybe_none = {n.targets[0].id for n in walk(program.node)
                           if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name)
                           and isinstance(n.value, gast.Constant) and n.value.value is None}
        self.saves: list[_Save] = []
        self.tapes: dict = {}     # "_tape": values derivatives flow through; "_control":
        #                           loop ranges, trip counts, conditions (never active)
        self.np = program.ref(np, "np")
        self.rt = program.ref(runtime, "_srcad")
        self.ref = runtime_ref(program, self.rt)
        self.none_init: set = set()
        self.bound: set = set()   # names bound on every path so far (a loop may run 0 times)
        self.old: dict = {}       # during x = f(x): x -> the name holding its old value
        self.simplify = Broadcasts(shapes, self.np).visit
        self.shapes = shapes
        self.comments: dict = {}
        self.checkpoint: object = False     # reverse(checkpoint=...): see checkpoint.py
        self.snapshot_names: set = set()    # names a checkpoint's snapshot reads
        self.guarded = where_guards(program.node)    # values only np.where branches read

    def adj(self, name: str) -> str:
        return self.namer.adjoint(name)

    def active(self, node) -> bool:
        return isinstance(node, gast.Name) and self.act.is_active(node.id)

    def tape_name(self, control=False):
        """The tape for active values, or the control tape (kept apart so that, when this
        code is differentiated again, integers and booleans never look active)."""
        kind = "_control" if control else "_tape"
        if kind not in self.tapes:
            self.tapes[kind] = self.namer.fresh(kind)
        return self.tapes[kind]

    def zeros(self, name):
        """``bx = zeros_like(x)``: 0.0 for a float (scalar loops stay plain float arithmetic),
        a list of zeros for a list, zeros for an array. Inside the adjoint of ``x = f(x)``
        the input's shape is the saved old value's."""
        value = self.old.get(name, name)
        return _assign(self.adj(name), _call(_attr(_name(self.rt), "zeros_like"), _name(value)))

    def error(self, stmt, message, hint, cls=NoRuleError, node=None):
        """A located error: at ``node`` (a call in ``stmt``) when it has a position, in the
        file the statement came from (a helper's own file for inlined code)."""
        src = getattr(stmt, "srcad_source", None) or self.src
        at = node if getattr(node, "col_offset", None) is not None else stmt
        return cls(message, src.location(at), hint)

"""Optimize generated code. Input and output: a gast FunctionDef that compiles and computes
the same values (to rounding: sums may be reordered).

``api.build`` runs the passes in this order:

1. ``optimize`` (``dataflow``; every optimized variant): copy propagation, peepholes
   (``peephole``) and constant folding, dead code, to a fixed point;
2. for a variant specialized on argument shapes: ``with_shapes`` (``shapes``: compact
   reduction adjoints, sizes from parameter shapes), ``optimize`` again, then
   ``scalar_reads`` and ``scalar_accumulators`` (``scalars``: scalar loops read rank-1
   arrays through lists of floats and accumulate into lists of floats);
3. ``inline_temporaries`` (``nesting``): single-use temporaries nested into their use;
   ``item_loops`` (``loops``): a loop over indices that reads only the items loops over them;
   ``carried_copies`` (``loops``): ``t = e ... v = t`` is ``v = e ...``;
4. for a specialized variant of real values: ``shaped_rewrites`` (``shaped``, ``inplace``):
   sums of products, scalar factors grouped, matmul adjoints inlined, ``b += e`` where ``b``
   owns its buffer, ``np.sum(a)`` as ``a.sum()`` where ``a`` is certainly an array;
5. ``owned_writes`` (``owned``; last, every variant, optimized or not): a parameter the
   function writes into is copied first; derivative code writing into memory it does not
   own is an internal error;

then, not a rewrite: ``output_facts`` (``outputs``), what the call path need not test of the
returned arrays of a real variant specialized on shapes.

No rewrite turns a new array into one that shares memory with an array written in place
(``aliases._Guard``: ``dt = dy * 1.0`` stays a copy before ``dt[0] = ...``);
``srcad.sharing.shares`` says what memory a value may share. Broadcasting that the known
shapes prove useless is dropped earlier, by the transformers as they instantiate rules
(``srcad.instantiate.Broadcasts``).
"""
from __future__ import annotations

from .dataflow import optimize
from .loops import carried_copies, item_loops
from .nesting import inline_temporaries
from .outputs import output_facts
from .owned import owned_writes
from .scalars import scalar_accumulators, scalar_reads
from .shaped import shaped_rewrites
from .shapes import with_shapes

__all__ = ["optimize", "with_shapes", "scalar_reads", "scalar_accumulators",
           "inline_temporaries", "item_loops", "carried_copies", "shaped_rewrites", "owned_writes",
           "output_facts"]

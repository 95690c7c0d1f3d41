"""Reverse mode: an ANF function -> one function that runs the primal sweep, then the adjoint
sweep, and returns the adjoints of the ``wrt`` parameters.

Input: a normalized ``Program`` (see ``normalize``) and its activity. Output: a gast
FunctionDef whose statements carry ``lineno`` of the user's line they differentiate.

The adjoint sweep visits statements last to first. It keeps a static ``_State``: which
adjoints hold a value at this point (the first contribution to an adjoint is an assignment,
later ones add; an adjoint nobody contributed to is never read) and which adjoint buffers
the sweep owns (may update in place). Loops and branches make the state meet at join points;
there, missing adjoints are materialized as zeros.

Values the adjoint sweep reads but the primal sweep overwrites (a name assigned in a loop or
branch, the old elements of ``x[i] = v``, a loop's trip count) are saved before they are
overwritten: in a local when the statement runs at most once, on the tape ``_tape`` (a list:
``append`` in the primal, ``pop`` in the adjoint) inside loops. Saves whose value the adjoint
never reads are dropped (to-be-recorded analysis), so straight-line code has no tape.

The transformer is one class in layers, each module a layer over the one before: ``base``
(the state, names, tapes), ``primal`` (the primal sweep and its saves), ``contributions``
(adjoint accumulation), ``adjoint`` (simple statements, rules applied through
``srcad.instantiate``), ``control`` (blocks, branches and loops), ``checkpoint`` (checkpointed loops), ``assemble`` (the whole
function, ``run``).
"""
from __future__ import annotations

from .assemble import WholeFunction

__all__ = ["reverse"]


def reverse(program, wrt, act, grad_seed=True, preserve_result=False, shapes=None,
            checkpoint=False, has_aux=False):
    """Build the reverse-mode derivative FunctionDef of a normalized program (``shapes``:
    what is known of values' shapes, see ``analysis.shapes``; ``checkpoint``: False, or
    top-level loops checkpointed with about sqrt(T) snapshots (None) or that many (an int),
    see ``checkpoint.py``; ``has_aux``: the function returns ``(value, aux...)`` and only
    ``value`` is differentiated)."""
    transformer = WholeFunction(program, wrt, act, grad_seed, preserve_result, shapes or {})
    transformer.checkpoint = checkpoint
    transformer.has_aux = has_aux
    return transformer.run()

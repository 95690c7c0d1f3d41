"""Print a sha256 of the code srcad generates for every function it is tested on, to show that a
refactoring left the generated code byte-identical.

    python scripts/digest_generated.py > before.txt
    ... change srcad ...
    python scripts/digest_generated.py > after.txt && cmp before.txt after.txt

The functions: every benchmark workload (benchmarks/workloads.py), every gallery function
(tests/gallery_functions.py) and every corpus case (tests/corpus.py,
tests/control_flow_corpus.py). Each is built (``srcad.api.build``, no cache) in

* reverse mode with a seed argument (``autodiff``), and as ``grad`` (seed 1.0) when the
  output is a scalar, and in forward mode;
* optimized and ``optimized=False``;
* for any shapes (the generic derivative ``show`` prints), and specialized for the shapes of
  its arguments and of up to three other shape patterns (tests/agreement.py
  ``shape_patterns``), as a call builds it (``api._kinds``, ``_complex_args``,
  ``_canonical``).

One line per case: ``<sha256> <case>``, the sha256 of the generated sources of all its
variants (a refused build contributes its error type and message instead); the last line is
the sha256 of all lines. Absolute paths of the checkout are written relative to it, so two
checkouts of the same code print the same digest. ``--show NAME`` prints the sources of the
cases whose name contains NAME instead (to find what differs).
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import inspect
import os
import sys
import warnings

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for sub in ("tests", "benchmarks"):
    if os.path.join(REPO_ROOT, sub) not in sys.path:
        sys.path.insert(0, os.path.join(REPO_ROOT, sub))

from srcad import api  # noqa: E402
from srcad.errors import SrcadError  # noqa: E402


def _cases():
    """(name, function, argument tuple, wrt) for every function srcad is tested on."""
    import control_flow_corpus
    import corpus
    import gallery_functions
    import workloads
    for w in workloads.WORKLOADS:
        for size in workloads.SIZES:
            yield f"workload/{w.name}[{size}]", w.f, tuple(w.args(size)), w.wrt
    for e in gallery_functions.GALLERY:
        yield f"gallery/{e.name}", e.func, tuple(e.args()), e.wrt
    for c in corpus.CASES:
        yield f"corpus/{c.name}", c.fn, c.make_args(), c.wrt
    for c in control_flow_corpus.CASES:
        yield f"control_flow/{c.id}", c.f, tuple(c.args()), c.wrt


def _relative(text: str) -> str:
    return text.replace(REPO_ROOT + os.sep, "").replace(REPO_ROOT, ".")


def _build(f, spec) -> str:
    try:
        return api.build(f, spec).source
    except SrcadError as exc:
        return f"refused: {type(exc).__name__}: {exc}"


def _variants(f, args, wrt):
    """(label, source) of every derivative built for ``f`` at ``args``."""
    from agreement import shape_patterns
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        output = f(*args)
        try:
            patterns = [args] + [a for _, a in shape_patterns(f, args, wrt)]
        except Exception:            # a function shape_patterns cannot run: its own point only
            patterns = [args]
    scalar = not isinstance(output, (list, tuple)) and np.ndim(output) == 0
    target = api._target(f)
    names = list(inspect.signature(target).parameters)
    kinds = [None]
    for point in patterns:
        shaped, complex_args = api._complex_args(api._kinds(point), names)
        kinds.append((api._canonical(shaped), complex_args))
    for mode, grad_seed in (("reverse", True), ("reverse", False), ("forward", True)):
        if mode == "reverse" and grad_seed and not scalar:
            continue
        for optimized in (True, False):
            base = api._spec(f, mode, wrt, False, optimized, grad_seed)
            seen = set()
            for k in kinds:
                if k in seen:
                    continue
                seen.add(k)
                spec = base if k is None else dataclasses.replace(
                    base, kinds=k[0], complex_args=k[1])
                label = f"{mode} grad_seed={grad_seed} optimized={optimized} kinds={k}"
                yield label, _relative(_build(target, spec))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--show", metavar="NAME", help="print the sources of these cases")
    options = parser.parse_args(argv)
    lines = []
    for name, f, args, wrt in _cases():
        if options.show is not None:
            if options.show in name:
                for label, source in _variants(f, args, wrt):
                    print(f"## {name}: {label}\n{source}")
            continue
        h = hashlib.sha256()
        for label, source in _variants(f, args, wrt):
            h.update(f"## {label}\n{source}\n".encode())
        lines.append(f"{h.hexdigest()} {name}")
        print(lines[-1], flush=True)
    if options.show is None:
        total = hashlib.sha256("\n".join(lines).encode()).hexdigest()
        print(f"{total} TOTAL ({len(lines)} cases)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

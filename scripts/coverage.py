"""The coverage table of srcad's rules against JAX's differentiable API (docs/coverage.md).

    python scripts/coverage.py               # write docs/coverage.md from srcad's registry
    python scripts/coverage.py --check       # exit 1 if docs/coverage.md is out of date
    python scripts/coverage.py --jax-names   # regenerate scripts/jax_names.json (needs JAX)

The JAX names are listed once from an installed JAX and committed (scripts/jax_names.json):
every public callable of ``jax.numpy``, ``jax.numpy.linalg``, ``jax.numpy.fft``,
``jax.scipy.special`` and ``jax.scipy.linalg`` with the kind of value it returns for a
float input (``probe``: 'float', 'integer', 'bool', or 'unknown' where a call with a small
float array fails). Coverage is computed at run time from srcad's registry, so it follows the
rules as they are added: a differentiable name is covered when srcad has both an adjoint and
a tangent rule for its NumPy/SciPy counterpart, an integer- or boolean-valued one when srcad
registers it (as non-differentiable, or with rules). SciPy names need SciPy installed.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAMES = ROOT / "scripts" / "jax_names.json"
TABLE = ROOT / "docs" / "coverage.md"

# JAX namespace -> the NumPy/SciPy module whose function of the same name is the counterpart.
NAMESPACES = {
    "jax.numpy": "numpy",
    "jax.numpy.linalg": "numpy.linalg",
    "jax.numpy.fft": "numpy.fft",
    "jax.scipy.special": "scipy.special",
    "jax.scipy.linalg": "scipy.linalg",
}

# Names a float-array probe cannot classify, or classifies wrongly: what their outputs are.
# "constant": values that do not depend on any float input (creation from shapes, dtype and
# shape queries); "integer"/"bool": integer or boolean valued; "step": float valued but
# piecewise constant (a zero derivative, which srcad gives by registering them as constant);
# "other": not a numerical function of arrays (classes, I/O, configuration, functions taking
# Python callables, NumPy's in-place writers). Everything else is differentiable.
KINDS = {
    "differentiable": "where",
    "step": "ceil fix floor floor_divide heaviside rint round around sign trunc spacing gammasgn",
    "constant": """
        arange empty empty_like eye identity indices ones ones_like tri zeros zeros_like
        broadcast_shapes can_cast diag_indices diag_indices_from isdtype issubdtype
        mask_indices ndim promote_types result_type shape size tril_indices
        tril_indices_from triu_indices triu_indices_from unravel_index ravel_multi_index
        iscomplexobj isrealobj isscalar min_scalar_type common_type bartlett blackman hamming
        hanning iterable hadamard helmert hilbert invhilbert invpascal pascal dft bernoulli
    """,
    "integer": """
        argmax argmin argsort argwhere bincount count_nonzero digitize flatnonzero lexsort
        nanargmax nanargmin nonzero searchsorted argpartition histogram_bin_edges_count
        gcd lcm bitwise_and bitwise_count bitwise_invert bitwise_left_shift bitwise_not
        bitwise_or bitwise_right_shift bitwise_xor invert left_shift right_shift packbits
        unpackbits matrix_rank histogramdd histogram2d histogram ix_
    """,
    "bool": """
        all any allclose array_equal array_equiv isclose iscomplex isfinite isin isinf
        isnan isneginf isposinf isreal signbit logical_and logical_not logical_or
        logical_xor equal not_equal greater greater_equal less less_equal in1d
    """,
    "other": """
        ndarray generic number integer signedinteger unsignedinteger inexact floating
        complexfloating bool_ character flexible object_ vectorize frompyfunc
        apply_along_axis apply_over_axes einsum_path ufunc fill_diagonal place put
        put_along_axis copyto array_repr array_str dtype finfo iinfo get_printoptions
        printoptions set_printoptions frombuffer fromfile fromfunction fromiter fromstring
        load save savez from_dlpack
    """,
}
KIND = {name: kind for kind, names in KINDS.items() for name in names.split()}

# Names the compiler differentiates itself, not through a rule, and how.
COMPILED = {
    "piecewise": "written as y[c] = f(x[c]) per piece, the functions inlined "
                 "(normalize/calls.py)",
}

# Why a name srcad does not cover is not covered (NumPy and SciPy names).
NOTES = {
    "histogram": "integer counts, but bin edges that move with the data: no rule rather "
                 "than a silent zero",
    "histogram2d": "as histogram", "histogramdd": "as histogram",
    "i0": "its derivative, I1, has no NumPy function (scipy.special.i1)",
    "kaiser": "its rules (smooth in beta through I1) are scipy.special's: SciPy not installed",
    "polydiv": "the remainder's length depends on its values (NumPy trims leading zeros): "
               "not yet",
    "sph_harm_y": "a complex result from real angles: not yet",
    "wofz": "complex valued (Faddeeva): not yet",
    "funm": "takes a Python function of a matrix: not yet",
    "hessenberg": "the derivative of the Householder reduction: not yet",
    "schur": "the real Schur form's blocks are not unique at complex pairs: not yet",
    "rsf2csf": "complex output: not yet",
    "qr_multiply": "not yet (use qr and a product)",
}


def _probe(fn, module: str) -> str:
    """'float', 'integer', 'bool' or 'unknown': what fn returns for a small float input."""
    import numpy as np
    matrix = module.endswith("linalg")
    x = np.array([[2.0, 0.5], [0.5, 1.0]]) if matrix else np.array([0.3, 0.6, 0.2, 0.9])
    for args in ((x,), (x, x)):
        try:
            out = fn(*args)
        except Exception:
            continue
        leaves = out if isinstance(out, (tuple, list)) else (out,)
        dtypes = [np.asarray(leaf).dtype for leaf in leaves if hasattr(leaf, "dtype")]
        if not dtypes:
            return "unknown"
        if any(np.issubdtype(t, np.inexact) for t in dtypes):
            return "float"
        return "bool" if all(t == np.bool_ for t in dtypes) else "integer"
    return "unknown"


def jax_names() -> dict:
    """Every public callable of the five JAX namespaces, with its probe (needs JAX)."""
    import inspect
    result = {}
    for namespace in NAMESPACES:
        module = importlib.import_module(namespace)
        entries = {}
        for name in sorted(dir(module)):
            obj = getattr(module, name)
            if name.startswith("_") or inspect.ismodule(obj) or not callable(obj):
                continue
            kind = "class" if inspect.isclass(obj) else _probe(obj, namespace)
            entries[name] = kind
        result[namespace] = entries
    return result


def _counterpart(namespace: str, name: str):
    module = importlib.import_module(NAMESPACES[namespace])
    return getattr(module, name, None)


def _kind(name: str, probe: str) -> str:
    if name in KIND:
        return KIND[name]
    if probe == "class":
        return "other"
    return {"integer": "integer", "bool": "bool"}.get(probe, "differentiable")


def _status(fn, kind: str) -> tuple[bool, str]:
    from srcad import registry
    rule = registry.lookup(fn)
    if kind == "step":
        if rule is not None and (rule.nondiff or rule.adjoint is not None):
            return True, "zero derivative (registered)" if rule.nondiff else "rules"
        return False, "missing"
    if kind == "differentiable":
        if rule is not None and rule.adjoint is not None and rule.tangent is not None:
            return True, "both rules"
        if rule is not None and rule.nondiff:
            return False, "registered as constant"
        return False, "missing" if rule is None else "one rule only"
    if rule is not None and (rule.nondiff or rule.adjoint is not None):
        return True, "no derivative (registered)" if rule.nondiff else "rules"
    return False, "not registered"


def table(names: dict) -> str:
    """docs/coverage.md for the registry as it is now (``names``: scripts/jax_names.json)."""
    from srcad import registry
    registry.load()
    lines, summary, seen = [], [], set()
    total_diff = covered_diff = total_const = covered_const = 0
    for namespace in NAMESPACES:
        entries = names[namespace]
        try:
            importlib.import_module(NAMESPACES[namespace])
        except ImportError:
            lines += [f"## {namespace}", "", f"{NAMESPACES[namespace]} is not installed.", ""]
            continue
        rows, ns_total, ns_covered = [], 0, 0
        for name, probe in entries.items():
            kind = _kind(name, probe)
            if kind == "other":
                continue
            fn = _counterpart(namespace, name)
            if fn is None:
                rows.append((name, kind, "-", "no NumPy/SciPy counterpart"))
                continue
            seen.add(id(fn))
            ok, status = (True, COMPILED[name]) if name in COMPILED else _status(fn, kind)
            status = status if ok or name not in NOTES else f"{status}: {NOTES[name]}"
            if kind in ("differentiable", "step"):
                ns_total += 1
                ns_covered += ok
            else:
                total_const += 1
                covered_const += ok
            rows.append((name, kind, "yes" if ok else "**no**", status))
        total_diff += ns_total
        covered_diff += ns_covered
        summary.append(f"| `{namespace}` | {ns_covered} / {ns_total} | "
                       f"{_percent(ns_covered, ns_total)} |")
        lines += [f"## `{namespace}` (counterpart: `{NAMESPACES[namespace]}`)", "",
                  "| name | kind | covered | srcad |", "| --- | --- | --- | --- |"]
        lines += [f"| `{n}` | {k} | {c} | {s} |" for n, k, c, s in rows] + [""]
    extra = sorted(registry.primitive_name(r.primitive) for r in registry.all_rules()
                   if id(r.primitive) not in seen and _public(r.primitive)
                   and not isinstance(r.primitive, registry.Variant)   # a keyword's form
                   and r.adjoint is not None and r.tangent is not None)
    head = [
        "# Coverage of JAX's differentiable API",
        "",
        "Generated by `python scripts/coverage.py` from srcad's rule registry and the JAX names",
        "in `scripts/jax_names.json` (listed once from JAX "
        f"{names.get('_jax_version', '?')}); `tests/test_coverage.py` checks it is up to date.",
        "A differentiable name is covered when srcad has both an adjoint and a tangent rule for",
        "its NumPy/SciPy counterpart; an integer-, boolean- or constant-valued one when srcad",
        "registers it. Names without a NumPy/SciPy counterpart are listed, not counted.",
        "",
        f"**Differentiable names covered: {covered_diff} / {total_diff} "
        f"({_percent(covered_diff, total_diff)}).** Integer-, boolean- and constant-valued "
        f"names registered: {covered_const} / {total_const}.",
        "",
        "| namespace | differentiable names covered | |",
        "| --- | --- | --- |",
    ] + summary + [""]
    tail = ["## NumPy and SciPy functions srcad differentiates that these JAX namespaces lack",
            "",
            ", ".join(f"`{n}`" for n in extra), ""]
    return "\n".join(head + lines + tail)


def _public(fn) -> bool:
    """A function of NumPy or SciPy (not Python's own, nor srcad's helpers, nor rules a
    program registered for its functions)."""
    return (getattr(fn, "__module__", None) or "").split(".")[0] in ("numpy", "scipy")


def _percent(a, b) -> str:
    return f"{100.0 * a / b:.1f}%" if b else "-"


def load_names() -> dict:
    return json.loads(NAMES.read_text())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the table is stale")
    parser.add_argument("--jax-names", action="store_true", help="list the names from JAX")
    args = parser.parse_args(argv)
    if args.jax_names:
        import jax
        names = {"_jax_version": jax.__version__, **jax_names()}
        NAMES.write_text(json.dumps(names, indent=1, sort_keys=True) + "\n")
        return 0
    names = load_names()
    text = table(names)
    if args.check:
        if TABLE.read_text() != text:
            print("docs/coverage.md is out of date: run python scripts/coverage.py",
                  file=sys.stderr)
            return 1
        return 0
    TABLE.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

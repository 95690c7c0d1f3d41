"""Checks of the second independent user corpus (tests/user_corpus2.py), from the public API only.

For every program: reverse mode (``srcad.grad``) against central finite differences in float64
(Richardson-extrapolated, so rtol 1e-6 is meaningful), forward mode (``srcad.jvp``) against
finite differences of the same direction, the second derivative (``srcad.hessian`` for one array,
``srcad.hvp`` otherwise) against finite differences of the gradient, that no derivative writes
into its arguments, that the spellings of one model (issue 16) have the same gradient, and for
container outputs the structure and values of ``jvp``/``vjp``/``jacobian``. Refusals must be
``srcad`` errors giving the file and line of the user's code.

Every check that fails today is listed in ``KNOWN`` as a strict xfail with the error's first
line, so the list is exact: a fix makes its entry XPASS (strict), and the entry must go.
``python tests/test_user_corpus2.py --report FILE.md`` writes the failures by category;
``--known`` prints the KNOWN dict for the current state.
"""
import copy
import dataclasses
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import srcad  # noqa: E402

pytest.importorskip("scipy", reason="the corpus calls scipy (the [scipy] extra; CI's [test] has it)")
import user_corpus2 as C  # noqa: E402

H = 1e-4          # finite-difference step (with Richardson extrapolation)
RTOL = 1e-6


class Mismatch(AssertionError):
    """A derivative srcad returned without an error that disagrees: a silent wrong answer."""


class Structure(AssertionError):
    """A derivative whose structure (types, keys, shapes) is not its argument's/output's."""


# -- trees: the float leaves of arguments and outputs, by path --------------------------------

def is_float_leaf(x):
    if isinstance(x, bool):
        return False
    if isinstance(x, (float, np.floating)):
        return True
    return isinstance(x, np.ndarray) and x.dtype.kind == "f"


def children(obj):
    """(step, child) pairs of a container, or None for a leaf."""
    if isinstance(obj, dict):
        return [(("k", k), v) for k, v in obj.items()]
    if isinstance(obj, (list, tuple)):
        return [(("i", i), v) for i, v in enumerate(obj)]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return [(("a", f.name), getattr(obj, f.name)) for f in dataclasses.fields(obj)]
    if type(obj).__module__ == C.__name__ and hasattr(obj, "__dict__"):   # the corpus's classes
        return [(("a", k), v) for k, v in vars(obj).items()]
    return None


def leaves(obj, path=()):
    """[(path, leaf)] of the float leaves of obj."""
    if is_float_leaf(obj):
        return [(path, obj)]
    kids = children(obj)
    if kids is None:
        return []
    out = []
    for step, child in kids:
        out.extend(leaves(child, path + (step,)))
    return out


def step_into(obj, step):
    kind, key = step
    return getattr(obj, key) if kind == "a" else obj[key]


def get_path(tree, path, like):
    """The item of tree at path, checking that each container on the way has like's type."""
    node, ref = tree, like
    for step in path:
        if type(node) is not type(ref):
            raise Structure(f"at {fmt_path(path)}: {type(node).__name__} where the argument has "
                            f"{type(ref).__name__}")
        try:
            node = step_into(node, step)
        except (KeyError, IndexError, AttributeError, TypeError) as err:
            raise Structure(f"no item {fmt_path(path)} in the derivative ({err!r})") from None
        ref = step_into(ref, step)
    return node


def fmt_path(path):
    return "".join(f".{k}" if kind == "a" else f"[{k!r}]" for kind, k in path) or "<root>"


def replace_at(obj, path, value):
    if not path:
        return value
    step, rest = path[0], path[1:]
    kind, key = step
    if kind == "k":
        new = copy.copy(obj)
        new[key] = replace_at(obj[key], rest, value)
        return new
    if kind == "i":
        items = list(obj)
        items[key] = replace_at(obj[key], rest, value)
        if isinstance(obj, list):
            return items
        return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)
    new = copy.copy(obj)
    object.__setattr__(new, key, replace_at(getattr(obj, key), rest, value))
    return new


def map_leaves(obj, fn, other=None):
    """obj with each float leaf x replaced by fn(x) (or fn(x, other's leaf)); None elsewhere
    when other is the string 'none'."""
    out = obj
    for path, leaf in leaves(obj):
        out = replace_at(out, path, fn(leaf) if other is None else fn(leaf, get_path(other, path, obj)))
    return out


def random_like(obj, r):
    def draw(x):
        v = r.standard_normal(np.shape(x))
        return type(x)(v) if isinstance(x, (float, np.floating)) else v
    t = map_leaves(obj, draw)
    return nonfloat_to_none(t, obj)


def nonfloat_to_none(t, obj):
    """A tangent: None where obj has a leaf that is not a float (an int, a string)."""
    if is_float_leaf(obj):
        return t
    kids = children(obj)
    if kids is None:
        return None if isinstance(obj, (int, str, np.integer, np.ndarray)) else t
    for step, child in kids:
        t = replace_at(t, (step,), nonfloat_to_none(step_into(t, step), child))
    return t


def axpy(a, x, t):
    """x + a * t over the float leaves."""
    return map_leaves(x, lambda xl, tl: xl + a * tl, other=t)


def flat(obj):
    return np.concatenate([np.ravel(np.asarray(l, dtype=float)) for _, l in leaves(obj)] or [np.zeros(0)])


def richardson(fun):
    """d/ds fun(s) at 0, fun returning an array: central differences, extrapolated."""
    d1 = (fun(H) - fun(-H)) / (2 * H)
    d2 = (fun(H / 2) - fun(-H / 2)) / H
    return (4 * d2 - d1) / 3


def close(ad, fd, what, rtol=RTOL):
    ad = np.asarray(ad, dtype=float)
    fd = np.asarray(fd, dtype=float)
    if ad.shape != fd.shape:
        raise Structure(f"{what}: shape {ad.shape}, expected {fd.shape}")
    scale = np.max(np.abs(fd)) if fd.size else 0.0
    err = np.max(np.abs(ad - fd)) if fd.size else 0.0
    if not np.all(np.isfinite(ad)) or err > rtol * scale + 1e-9:
        i = int(np.argmax(np.abs(ad - fd)))
        raise Mismatch(f"{what}: srcad {ad.ravel()[i]!r}, finite differences {fd.ravel()[i]!r} "
                       f"(max abs error {err:.3g}, scale {scale:.3g})")


# -- the program under test -------------------------------------------------------------------

def wrt_tuple(p):
    return (p.wrt,) if isinstance(p.wrt, int) else tuple(p.wrt)


def scalar_fn(p):
    def F(*a):
        v = p.fn(*a, **p.kwargs)
        return v[0] if p.aux else v
    return F


def with_args(args, i, value):
    a = list(args)
    a[i] = value
    return tuple(a)


def fd_gradient_leaf(F, args, i, path, leaf):
    """Finite differences of scalar F in each element of one leaf of argument i."""
    x = np.asarray(leaf, dtype=float)
    g = np.zeros(x.shape)
    for j in range(x.size):
        def moved(s, j=j):
            v = x.copy()
            v.flat[j] += s
            new = type(leaf)(v) if isinstance(leaf, (float, np.floating)) else v
            return np.asarray(F(*with_args(args, i, replace_at(args[i], path, new))), dtype=float)
        g.flat[j] = richardson(moved)
    return g


def check_tree_like(got, like, what):
    """got has like's structure: each float leaf of like is in got with its shape."""
    for path, leaf in leaves(like):
        item = get_path(got, path, like)
        if item is None or np.shape(item) != np.shape(leaf):
            raise Structure(f"{what}{fmt_path(path)}: {type(item).__name__} of shape "
                            f"{np.shape(item)}, expected shape {np.shape(leaf)}")


def call_fn(p):
    """p.fn with its keyword arguments bound (jvp/vjp/hvp take positional primals)."""
    return C.functools.partial(p.fn, **p.kwargs) if p.kwargs else p.fn


# -- the checks -------------------------------------------------------------------------------

def check_grad(p):
    args = p.args()
    F = scalar_fn(p)
    res = srcad.grad(p.fn, wrt=p.wrt, **p.options)(*args, **p.kwargs)
    if p.aux:
        if not (isinstance(res, tuple) and len(res) == 2):
            raise Structure(f"has_aux: expected (gradient, aux), got {type(res).__name__}")
        res, aux = res
        want = p.fn(*args, **p.kwargs)[1]
        close(flat(aux), flat(want), "aux")
    wrt = wrt_tuple(p)
    grads = (res,) if isinstance(p.wrt, int) else res
    if not isinstance(grads, tuple) or len(grads) != len(wrt):
        raise Structure(f"expected a tuple of {len(wrt)} gradients, got {type(res).__name__}")
    for g, i in zip(grads, wrt):
        check_tree_like(g, args[i], f"gradient of argument {i}")
        for path, leaf in leaves(args[i]):
            fd = fd_gradient_leaf(F, args, i, path, leaf)
            close(get_path(g, path, args[i]), fd, f"d/d(arg {i}){fmt_path(path)}")


def output_fd(p, args, tangents):
    wrt = wrt_tuple(p)

    def moved(s):
        a = list(args)
        for i, t in zip(wrt, tangents):
            a[i] = axpy(s, args[i], t)
        return flat(p.fn(*a, **p.kwargs))
    return richardson(moved)


def check_fwd(p):
    args = p.args()
    r = np.random.default_rng(7)
    tangents = tuple(random_like(args[i], r) for i in wrt_tuple(p))
    value, tangent_out = srcad.jvp(call_fn(p), args, tangents, wrt=p.wrt)
    want_value = p.fn(*args, **p.kwargs)
    if p.out != "scalar":
        check_tree_like(tangent_out, want_value, "jvp output")
        check_tree_like(value, want_value, "jvp value")
    close(flat(value), flat(want_value), "jvp value", rtol=1e-12)
    close(flat(tangent_out), output_fd(p, args, tangents), "jvp against finite differences")


def check_hess(p):
    args = p.args()
    wrt = wrt_tuple(p)
    dfn = srcad.grad(p.fn, wrt=p.wrt)

    def grad_flat(a):
        g = dfn(*a, **p.kwargs)
        gs = (g,) if isinstance(p.wrt, int) else g
        return np.concatenate([flat(gi) if gi is not None else np.zeros(0) for gi in gs])

    if isinstance(p.wrt, int) and isinstance(args[p.wrt], np.ndarray):
        x = args[p.wrt]
        Hm = srcad.hessian(p.fn, wrt=p.wrt)(*args, **p.kwargs)
        Hm = np.asarray(Hm, dtype=float)
        if Hm.shape != x.shape + x.shape:
            raise Structure(f"hessian shape {Hm.shape}, expected {x.shape + x.shape}")
        fd = np.zeros((x.size, x.size))
        for j in range(x.size):
            def moved(s, j=j):
                v = x.copy()
                v.flat[j] += s
                return grad_flat(with_args(args, p.wrt, v))
            fd[:, j] = richardson(moved)
        close(Hm.reshape(x.size, x.size), fd, "hessian against finite differences of the gradient")
        return
    r = np.random.default_rng(11)
    vs = tuple(random_like(args[i], r) for i in wrt)
    hv = srcad.hvp(call_fn(p), wrt=p.wrt)(*args, *vs)
    hvs = (hv,) if isinstance(p.wrt, int) else hv
    for h_i, i in zip(hvs, wrt):
        check_tree_like(h_i, args[i], f"hvp of argument {i}")

    def moved(s):
        a = list(args)
        for i, v in zip(wrt, vs):
            a[i] = axpy(s, args[i], v)
        return grad_flat(tuple(a))
    got = np.concatenate([flat(h_i) for h_i in hvs])
    close(got, richardson(moved), "hvp against finite differences of the gradient")


def check_gradgrad(p):
    """grad differentiated again: jacfwd(grad(f)) for an array, grad(grad(f)) for a float."""
    args = p.args()
    x = args[p.wrt]
    dfn = srcad.grad(p.fn, wrt=p.wrt)
    if isinstance(x, float):
        got = srcad.grad(dfn, wrt=p.wrt)(*args)
        fd = richardson(lambda s: np.asarray(dfn(*with_args(args, p.wrt, x + s)), dtype=float))
        close(got, fd, "grad(grad(f)) against finite differences of the gradient")
        return
    got = np.asarray(srcad.jacfwd(dfn, wrt=p.wrt)(*args), dtype=float)
    cols = []
    for j in range(x.size):
        def moved(s, j=j):
            v = x.copy()
            v.flat[j] += s
            return flat(dfn(*with_args(args, p.wrt, v)))
        cols.append(richardson(moved))
    close(got.reshape(x.size, x.size), np.stack(cols, axis=1),
          "jacfwd(grad(f)) against finite differences of the gradient")


def snapshot(args):
    return copy.deepcopy(args)


def same_values(a, b, path="args"):
    if isinstance(a, np.ndarray):
        if not np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"):
            raise Mismatch(f"{path} was modified by the derivative")
        return
    kids = children(a)
    if kids is None:
        if isinstance(a, (float, int)) and a != b:
            raise Mismatch(f"{path} was modified by the derivative")
        return
    for step, child in kids:
        same_values(child, step_into(b, step), path + fmt_path((step,)))


def check_nomut(p):
    args = p.args()
    before = snapshot(args)
    if p.out == "scalar":
        srcad.grad(p.fn, wrt=p.wrt, **p.options)(*args, **p.kwargs)
    else:
        seed = random_like(p.fn(*args, **p.kwargs), np.random.default_rng(3))
        srcad.vjp(call_fn(p), *args, wrt=p.wrt)[1](seed)
    same_values(args, before)
    if p.fwd and not p.aux:
        r = np.random.default_rng(5)
        tangents = tuple(random_like(args[i], r) for i in wrt_tuple(p))
        t_before = snapshot(tangents)
        srcad.jvp(call_fn(p), args, tangents, wrt=p.wrt)
        same_values(args, before)
        same_values(tangents, t_before, "tangents")


def check_spell(p):
    first = next(q for q in C.CORPUS.values() if q.group == p.group)
    args = p.args()
    g = srcad.grad(p.fn, wrt=p.wrt)(*args)
    g0 = srcad.grad(first.fn, wrt=first.wrt)(*args)
    close(flat(g), flat(g0), f"gradient against the spelling {first.name}", rtol=1e-9)


def check_vjp(p):
    args = p.args()
    out = p.fn(*args)
    seed = random_like(out, np.random.default_rng(9))
    value, pullback = srcad.vjp(p.fn, *args, wrt=p.wrt)
    close(flat(value), flat(out), "vjp value", rtol=1e-12)
    ct = pullback(seed)
    if isinstance(p.wrt, int):
        # Tangent's positional cotangent: autodiff(f, mode='reverse')(*args, dy) is seed=dy
        by_position = srcad.autodiff(p.fn, mode="reverse", wrt=p.wrt)(*args, seed)
        check_tree_like(by_position, args[p.wrt], "autodiff(mode='reverse') with a positional seed")
        close(flat(by_position), flat(ct), "autodiff(mode='reverse') with a positional seed against vjp",
              rtol=1e-12)
    cts = (ct,) if isinstance(p.wrt, int) else ct
    wrt = wrt_tuple(p)
    if not isinstance(cts, tuple) or len(cts) != len(wrt):
        raise Structure(f"expected {len(wrt)} cotangents, got {type(ct).__name__}")
    s = flat(seed)

    def F(*a):
        return float(flat(p.fn(*a)) @ s)
    for c, i in zip(cts, wrt):
        check_tree_like(c, args[i], f"cotangent of argument {i}")
        for path, leaf in leaves(args[i]):
            close(get_path(c, path, args[i]), fd_gradient_leaf(F, args, i, path, leaf),
                  f"vjp d/d(arg {i}){fmt_path(path)}")


def check_jac(p):
    args = p.args()
    out = p.fn(*args)
    x = args[p.wrt]
    fd_cols = []
    for j in range(x.size):
        def moved(s, j=j):
            v = x.copy()
            v.flat[j] += s
            return flat(p.fn(*with_args(args, p.wrt, v)))
        fd_cols.append(richardson(moved))
    fd = np.stack(fd_cols, axis=1)          # (flat output, x.size)
    for mode in ("auto", "forward", "reverse"):
        J = srcad.jacobian(p.fn, wrt=p.wrt, mode=mode)(*args)
        rows = []
        for path, leaf in leaves(out):
            Jl = get_path(J, path, out)
            want = np.shape(leaf) + x.shape
            if np.shape(Jl) != want:
                raise Structure(f"jacobian ({mode}){fmt_path(path)}: shape {np.shape(Jl)}, expected {want}")
            rows.append(np.reshape(Jl, (-1, x.size)))
        close(np.concatenate(rows), fd, f"jacobian (mode={mode!r})")


def marked_line(fn):
    import inspect
    lines, start = inspect.getsourcelines(fn)
    for k, text in enumerate(lines):
        if "# <- error" in text:
            return start + k
    raise AssertionError(f"{fn.__name__} has no '# <- error' marker")


def check_refuse(r):
    expected = getattr(srcad, r.error)
    try:
        srcad.grad(r.fn)(*r.args())
    except srcad.SrcadError as err:
        if isinstance(err, srcad.InternalError):
            raise AssertionError(f"an InternalError: {first_line(err)}") from err
        if not isinstance(err, expected):
            raise AssertionError(f"{type(err).__name__}, expected {r.error}: {first_line(err)}") from err
        if r.located:
            where = f"{C.__file__}:{marked_line(r.fn)}"
            if not str(err).startswith(where):
                raise AssertionError(f"not located at {os.path.basename(where)}: {first_line(err)}") from err
        return
    except Exception as err:
        raise AssertionError(f"a raw {type(err).__name__}, not an srcad error: {first_line(err)}") from err
    raise Mismatch("no error: srcad differentiated it")


CHECK_FUNCTIONS = {"grad": check_grad, "fwd": check_fwd, "hess": check_hess, "nomut": check_nomut,
                   "spell": check_spell, "vjp": check_vjp, "jac": check_jac,
                   "gradgrad": check_gradgrad}


def spelling_index(p):
    if not p.group:
        return 0
    return [q.name for q in C.CORPUS.values() if q.group == p.group].index(p.name)


def checks_of(p):
    if p.out == "scalar":
        out = ["grad"]
        if p.fwd and not p.aux:
            out.append("fwd")
        if p.hess and not p.aux and spelling_index(p) < 1:   # one spelling of a model suffices
            out.append("hess")
        if p.gradgrad:
            out.append("gradgrad")
        out.append("nomut")
        if spelling_index(p) > 0:
            out.append("spell")
        return out
    out = ["fwd", "vjp", "nomut"]
    if p.out == "array" or isinstance(p.wrt, int):
        out.append("jac")
    return out


ALL = [(name, check) for name, p in C.CORPUS.items() for check in checks_of(p)]
ALL += [(name, "refuse") for name in C.REFUSALS]


def run(name, check):
    if check == "refuse":
        return check_refuse(C.REFUSALS[name])
    return CHECK_FUNCTIONS[check](C.CORPUS[name])


def first_line(err):
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


# Checks failing today (strict xfails): the error's first line. "WRONG:" marks a silent wrong
# answer (no error, a wrong number).
KNOWN: dict[tuple[str, str], str] = {
}


def _param(name, check):
    reason = KNOWN.get((name, check))
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(name, check, id=f"{name}-{check}", marks=marks)


@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::DeprecationWarning")
@pytest.mark.parametrize("name,check", [_param(n, c) for n, c in ALL])
def test_user_corpus2(name, check):
    try:
        run(name, check)
    except Exception as err:
        # no traceback: pytest would parse every frame's source file for each expected failure
        # (seconds in total); `python tests/test_user_corpus2.py --report` and the program's
        # name reproduce it
        kind = "WRONG" if isinstance(err, Mismatch) else type(err).__name__
        pytest.fail(f"{name} ({check}): {kind}: {err}", pytrace=False)


def test_known_entries_exist():
    assert set(KNOWN) <= set(ALL)


def test_corpus_size():
    assert len(C.CORPUS) >= 80


# -- the report -------------------------------------------------------------------------------

def outcome(name, check):
    import warnings
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import contextlib
            import io
            with contextlib.redirect_stdout(io.StringIO()):
                run(name, check)
    except Mismatch as err:
        return "WRONG", f"WRONG: {first_line(err)}"
    except Structure as err:
        return "structure", f"structure: {first_line(err)}"
    except srcad.SrcadError as err:
        return type(err).__name__, f"{type(err).__name__}: {first_line(err)}"
    except Exception as err:
        return "raw " + type(err).__name__, f"{type(err).__name__}: {first_line(err)}"
    return "pass", ""


def category(name):
    return C.CORPUS[name].category if name in C.CORPUS else "refuse"


def main(argv):
    keys = ALL
    if "--only" in argv:      # one category: np, scipy, kw, py, spell, out or refuse
        keys = [key for key in ALL if category(key[0]) == argv[argv.index("--only") + 1]]
    results = {key: outcome(*key) for key in keys}
    if "--known" in argv:
        print("KNOWN: dict[tuple[str, str], str] = {")
        for (name, check), (kind, text) in results.items():
            if kind != "pass":
                short = text.replace(C.__file__, "user_corpus2.py")
                if len(short) > 150:
                    short = short[:147] + "..."
                print(f"    ({name!r}, {check!r}):\n        {short!r},")
        print("}")
    if "--report" in argv:
        path = argv[argv.index("--report") + 1]
        failed = {k: v for k, v in results.items() if v[0] != "pass"}
        lines = ["# srcad: second user corpus (tests/user_corpus2.py)", "",
                 f"{len(C.CORPUS)} programs, {len(C.REFUSALS)} refusals, {len(keys)} checks: "
                 f"{len(keys) - len(failed)} pass, {len(failed)} fail.", ""]
        wrong = {k: v for k, v in failed.items() if v[0] == "WRONG"}
        lines += ["## Silent wrong answers (no error, a wrong number)", ""]
        lines += [f"- `{n}` ({c}): {v[1]}" for (n, c), v in wrong.items()] or ["none"]
        lines.append("")
        for cat in ("np", "kw", "scipy", "py", "spell", "out", "refuse"):
            rows = [(k, v) for k, v in failed.items() if category(k[0]) == cat]
            total = sum(1 for k in keys if category(k[0]) == cat)
            lines += [f"## {cat}: {len(rows)} of {total} checks fail", ""]
            for (n, c), (kind, text) in rows:
                lines.append(f"- `{n}` {c} [{kind}]: {text.replace(C.__file__, 'user_corpus2.py')}")
            lines.append("")
        with open(path, "w") as fh:
            fh.write("\n".join(lines))
        print(f"wrote {path}: {len(failed)} failing checks of {len(keys)}, {len(wrong)} wrong numbers")


if __name__ == "__main__":
    main(sys.argv[1:])

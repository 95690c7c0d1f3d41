"""Issue 13, "the Python that surrounds numerics": the last constructs refused.

1. ``isinstance(p, tuple)``, ``isinstance(p, (list, tuple))``, ``type(p) is list`` of a list
   or tuple argument (and ``isinstance(x, np.ndarray)`` of an array) are decided when the
   derivative is built: a list and a tuple of arrays are variants of their own.
2. A string built from values only to be printed, logged, raised or asserted is a
   primal-only assignment (``msg = f"..."; log.debug(msg)``), run once in the primal.
3. ``(y := e)`` inside a comprehension binds ``y`` in the function's scope.
4. ``min``/``max`` of a comprehension or generator expression (the first least/greatest item),
   and an ``if`` whose test is a name its own branch assigns (``if first: ...; first =
   False``), whose adjoint read the new value (a silent wrong gradient before).
5. A local ``g = functools.partial(f, a, k=v)`` only called: each call is ``f(a, ..., k=v)``.

Each against central finite differences (float64): reverse, forward and hvp.
"""
import functools
import logging
import warnings

import numpy as np
import pytest

import srcad

EPS = 1e-6
log = logging.getLogger("issue13_last")


# -- helpers: arguments are arrays, floats, or lists/tuples of them ----------------------------

def _leaves(a):
    return list(a) if isinstance(a, (list, tuple)) else [a]


def _rebuild(a, leaves):
    return type(a)(leaves) if isinstance(a, (list, tuple)) else leaves[0]


def _flat(a):
    return np.concatenate([np.ravel(np.asarray(v, dtype=float)) for v in _leaves(a)])


def _unflat(a, vec):
    out, k = [], 0
    for v in _leaves(a):
        n = np.size(v)
        part = vec[k:k + n]
        out.append(part.reshape(np.shape(v)) if isinstance(v, np.ndarray) else float(part[0]))
        k += n
    return _rebuild(a, out)


def _at(args, i, v):
    return args[:i] + (v,) + args[i + 1:]


def fd_grad(f, args, i):
    base = _flat(args[i])
    out = np.zeros_like(base)
    for k in range(base.size):
        e = np.zeros_like(base)
        e[k] = EPS
        out[k] = (f(*_at(args, i, _unflat(args[i], base + e))) -
                  f(*_at(args, i, _unflat(args[i], base - e)))) / (2 * EPS)
    return out


def check(f, *args, wrt=0):
    """grad, jvp and hvp of ``f`` against central differences."""
    rng = np.random.default_rng(13)
    g = srcad.grad(f, wrt=wrt)(*args)
    assert type(g) is type(args[wrt])
    np.testing.assert_allclose(_flat(g), fd_grad(f, args, wrt), rtol=1e-6, atol=1e-7)
    base = _flat(args[wrt])
    d = rng.standard_normal(base.size)
    tangent = _unflat(args[wrt], d)
    value, t = srcad.jvp(f, args, (tangent,), wrt=wrt)
    np.testing.assert_allclose(value, f(*args))
    ref = (f(*_at(args, wrt, _unflat(args[wrt], base + EPS * d))) -
           f(*_at(args, wrt, _unflat(args[wrt], base - EPS * d)))) / (2 * EPS)
    np.testing.assert_allclose(t, ref, rtol=1e-6, atol=1e-7)
    hv = srcad.hvp(f, wrt=wrt)(*args, tangent)
    gr = srcad.grad(f, wrt=wrt)
    ref = (_flat(gr(*_at(args, wrt, _unflat(args[wrt], base + EPS * d)))) -
           _flat(gr(*_at(args, wrt, _unflat(args[wrt], base - EPS * d))))) / (2 * EPS)
    np.testing.assert_allclose(_flat(hv), ref, rtol=1e-5, atol=1e-6)
    return g


SHAPES = [(3,), (2, 3), (4, 1)]


def _arr(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape) * 0.5


# -- 1. list vs tuple known when the derivative is built --------------------------------------

def iso_loss(p, x):
    if isinstance(p, dict):
        b = p["b"] if "b" in p else 0.0
        return np.sum(np.sin(p["w"] * x) + b)
    if isinstance(p, (list, tuple)):
        return np.sum(p[0] * x) * p[1] + np.sum(np.tanh(p[0]))
    return np.sum(p * x ** 2)


def by_type(p, x):
    if type(p) is tuple:
        return np.sum(np.sin(p[0] * x)) * p[1]
    if isinstance(p, list):                 # a different formula for a list
        return np.sum(np.exp(p[0] * x)) + p[1] ** 2
    return np.sum(p * x)


def array_or_pair(x, w):
    if not isinstance(x, np.ndarray):
        return np.sum(x[0] * w) + np.sum(x[1] * w)
    return np.sum(np.exp(x * w))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", [tuple, list])
def test_isinstance_tuple_early_return(shape, kind):
    x = _arr(shape, 1)
    check(iso_loss, kind([_arr(shape), 0.7]), x)
    check(iso_loss, _arr(shape), x)                       # an array falls through
    check(iso_loss, kind([_arr(shape), 0.7]), x, wrt=1)


@pytest.mark.parametrize("shape", SHAPES)
def test_type_is_decides_per_variant(shape):
    """One derivative called with a tuple, a list, a tuple again: each its own variant (the
    list's formula differs; a shared variant would give the first's gradient)."""
    x, w = _arr(shape, 1), _arr(shape, 2)
    d = srcad.grad(by_type)
    for p in [(w, 0.7), [w, 0.7], (w, 0.7), [w, 0.3]]:
        g = d(p, x)
        assert type(g) is type(p)
        np.testing.assert_allclose(_flat(g), fd_grad(by_type, (p, x), 0), rtol=1e-6,
                                   atol=1e-7)
    check(by_type, (w, 0.7), x)
    check(by_type, [w, 0.7], x)


@pytest.mark.parametrize("shape", SHAPES)
def test_isinstance_ndarray(shape):
    w = _arr(shape, 3)
    check(array_or_pair, _arr(shape), w)
    check(array_or_pair, (_arr(shape), _arr(shape, 4)), w)
    check(array_or_pair, [_arr(shape), _arr(shape, 4)], w, wrt=1)


def test_folded_code_reads_no_isinstance():
    w, x = _arr((3,)), _arr((3,), 1)
    for p in [(w, 0.7), [w, 0.7]]:
        text = srcad.show(by_type, p, x)
        assert "isinstance" not in text and "type(" not in text, text
    assert "np.exp" in srcad.show(by_type, [w, 0.7], x)
    assert "np.exp" not in srcad.show(by_type, (w, 0.7), x)


def test_generic_variant_tests_at_run_time():
    """Without example arguments nothing is known: the generic derivative tests the type
    when it runs, and is right for either."""
    text = srcad.show(array_or_pair)
    assert "isinstance" in text


def test_list_tuple_keys_in_the_dispatcher():
    from srcad import api
    w = _arr((3,))
    assert api._kinds(((w, 0.5),)) != api._kinds(([w, 0.5],))
    assert api._canonical(api._kinds(((w, 0.5),))) != api._canonical(api._kinds(([w, 0.5],)))


# -- 2. strings built for messages -----------------------------------------------------------

def fstring_logged(w, X):
    z = X @ w
    msg = f"z mean {np.mean(z):.3f}"
    log.debug(msg)
    return np.sum(np.exp(-z ** 2))


def formatted_messages(w, X):
    z = X @ w
    head = "z max " + str(np.max(z))
    msg = head + "; mean %.3f" % np.mean(z)
    extra = "{} / {:.2f}".format(z.shape, np.min(z))
    for i in range(2):
        step = f"step {i}: {np.sum(z * i):.2f}"
        log.info(step)
        z = np.tanh(z * 1.1)
    if np.sum(z) > 1e6:
        err = "too large: " + repr(np.sum(z))
        raise ValueError(err)
    note = "finite " + str(z.size)
    assert np.all(np.isfinite(z)), note
    log.info(msg + "; " + extra)
    warnings.warn(msg, UserWarning)
    return np.sum(z ** 2)


printed = []


def printed_message(w):
    s = f"sum={np.sum(w):.4f}"
    print(s)
    return np.sum(np.sin(w) * w)


@pytest.mark.parametrize("shape", [(3,), (2, 3)])
def test_fstring_assigned_then_logged(shape):
    X = _arr((4,) + shape[1:] + (shape[0],), 5).reshape(-1, shape[0]) if len(shape) == 1 \
        else _arr((4, shape[1]), 5)
    w = _arr(shape[-1:], 6)
    check(fstring_logged, w, X)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("n", [3, 5])
def test_str_format_percent_concat_messages(n):
    check(formatted_messages, _arr((n,), 7), _arr((4, n), 8))


def test_message_runs_once_in_the_primal(capsys):
    w = _arr((4,), 9)
    srcad.grad(printed_message)(w)
    assert capsys.readouterr().out == f"sum={np.sum(w):.4f}\n"
    srcad.jvp(printed_message, (w,), (np.ones(4),))
    assert capsys.readouterr().out == f"sum={np.sum(w):.4f}\n"


def test_message_kept_as_written_and_out_of_the_sweep():
    w, X = _arr((3,), 6), _arr((4, 3), 5)
    for mode in ("reverse", "forward"):
        text = srcad.show(fstring_logged, w, X, mode=mode)
        assert text.count("msg = f'z mean") == 1 and text.count("log.debug(msg)") == 1, text
        assert "bmsg" not in text and "dmsg" not in text


def _logged_helper(z):
    msg = f"helper mean {np.mean(z):.3f}"
    log.debug(msg)
    return np.tanh(z)


def message_in_helpers(w):
    a = _logged_helper(w * 2.0)
    b = _logged_helper(a)          # the helper's msg renamed per inlining
    msg = "main " + str(np.sum(b))
    log.debug(msg)
    return np.sum(b ** 2)


@pytest.mark.parametrize("n", [3, 4])
def test_message_in_inlined_helpers(n):
    check(message_in_helpers, _arr((n,), 10))
    text = srcad.show(message_in_helpers, _arr((n,), 10))
    assert "helper_msg = f'helper mean" in text and "helper_msg_2 = f'helper mean" in text


def string_in_arithmetic(w):
    s = str(np.sum(w))
    return np.sum(w) * s


def fstring_length(w):
    s = f"{np.sum(w)}"
    return np.sum(w) * len(s)


@pytest.mark.parametrize("f, what", [(string_in_arithmetic, "read by arithmetic"),
                                     (fstring_length, "f-strings here")])
def test_string_into_arithmetic_refused_located(f, what):
    with pytest.raises(srcad.SrcadError) as info:
        srcad.grad(f)(_arr((3,)))
    text = str(info.value)
    assert what in text and __file__ in text
    line = f.__code__.co_firstlineno + (2 if f is string_in_arithmetic else 1)
    assert f":{line}:" in text
    assert "messages" in text                        # the hint says what to write


# -- 3. walrus inside a comprehension --------------------------------------------------------

def walrus_comp(x):
    return sum([y * 2.0 for j in range(3) if (y := x[j] * 0.5) < 0.4])


def walrus_leaks(x):
    s = sum(z ** 2 for j in range(4) if (z := np.sin(x[j])) > 0.0)
    return s + z            # z is the last value bound, as Python binds it


def walrus_in_item(x):
    ys = [(t := np.tanh(x[j])) * t for j in range(len(x))]
    return sum(ys) + t


@pytest.mark.parametrize("x", [np.array([0.7, -0.3, 1.4, 0.2]), np.array([0.1, 0.9, 0.5, -2.0,
                                                                            0.3])])
@pytest.mark.parametrize("f", [walrus_comp, walrus_leaks, walrus_in_item])
def test_walrus_in_comprehension(f, x):
    check(f, x)


def walrus_in_dict_comp(x):
    d = {k: (v := x[i] * 2.0) for i, k in enumerate(("a", "b"))}
    return d["a"] + v


def test_walrus_in_dict_comprehension():
    """Unrolled over the enumerate of constants, each item's := binds in the function in turn
    (refused before; tests/test_issue13_forms.py has the rest)."""
    check(walrus_in_dict_comp, np.array([0.5, 1.5]))


# -- 4. min/max of a comprehension; a branch assigning its own test ------------------------

def builtin_max_min(x):
    return max(x[0] * 2.0, x[1]) + min([x[i] ** 2 for i in range(3)])


def max_of_generator(x):
    return max(np.sin(x[i]) * x[i] for i in range(len(x)) if x[i] > -1.0)


def max_over_array(x):
    return max(v * np.sin(v) for v in x)      # the sorted(...) of it stays refused


def min_of_rows(A):
    return min(np.sum(A[i] ** 2) for i in range(A.shape[0])) + np.sum(A)


def first_flag(x):
    first = True
    m = 0.0
    for i in range(len(x)):
        v = x[i] ** 2 + 0.1 * x[i]
        if first:
            m = v
            first = False
        elif v < m:
            m = v
    return m * np.sum(x)


@pytest.mark.parametrize("x", [np.array([0.3, 1.1, -0.5]), np.array([0.9, -0.2, 0.5, 1.3])])
@pytest.mark.parametrize("f", [builtin_max_min, max_of_generator, first_flag, max_over_array])
def test_min_max_and_flag(f, x):
    check(f, x)


@pytest.mark.parametrize("shape", [(3, 2), (2, 4)])
def test_min_of_rows(shape):
    check(min_of_rows, _arr(shape, 11))


def test_first_flag_regression():
    """The adjoint of ``if first:`` read ``first`` after its branch set it False: the
    gradient of the first item's branch was lost (0 instead of 2 * 0.3 + 0.1)."""
    x = np.array([0.3, 1.1, 0.9])
    g = srcad.grad(first_flag)(x)
    np.testing.assert_allclose(g, fd_grad(first_flag, (x,), 0), rtol=1e-6, atol=1e-8)
    assert abs(g[0]) > 0.1


def test_min_of_empty_raises():
    def least(x):
        return min(x[i] for i in range(0)) + np.sum(x)
    with pytest.raises(ValueError, match="empty sequence"):
        srcad.grad(least)(np.ones(2))


# -- 5. a local functools.partial of local values ------------------------------------------

P_GLOBAL = np.array([9.0, 9.0, 9.0])


def partial_of_local(x):
    P_GLOBAL = x ** 2           # shadows the module-level name: the local is bound
    g = functools.partial(np.dot, P_GLOBAL)
    return g(x)


def partial_keywords(x, w):
    scale = np.sum(w ** 2)
    h = functools.partial(np.clip, a_min=-scale, a_max=scale)
    return np.sum(h(x * w) ** 2) + np.sum(h(x, a_max=0.5 * scale))


def partial_rebound_argument(x):
    a = np.sin(x)
    g = functools.partial(np.multiply, a)
    a = a * 10.0                # the partial holds the first a, as Python's does
    return np.sum(g(x)) + np.sum(a)


@pytest.mark.parametrize("n", [3, 5])
def test_local_partial(n):
    x = _arr((n,), 12)
    check(partial_of_local, x)
    check(partial_keywords, x, _arr((n,), 13))
    check(partial_keywords, x, _arr((n,), 13), wrt=1)
    check(partial_rebound_argument, x)


def test_local_partial_reads_the_local():
    """Refused until now (and a silent wrong answer before that: the module-level value)."""
    x = np.array([0.3, 1.1, -0.5])
    np.testing.assert_allclose(srcad.grad(partial_of_local)(x), 3 * x ** 2)
    text = srcad.show(partial_of_local, x)
    assert "functools" not in text and "np.dot" not in text      # the dot's own adjoint


# ---- np.clip's bounds: the method defaults a missing one to None, the function does not
def _clip_method_min(x):
    return np.sum(x.clip(0.1) ** 2)


def _clip_method_max_positional(x):
    return np.sum(x.clip(None, 0.4) * x)


def _clip_function_max_keyword(x):
    return np.sum(np.clip(x, max=0.4) ** 3)


@pytest.mark.parametrize("f", [_clip_method_min, _clip_method_max_positional,
                               _clip_function_max_keyword])
def test_clip_missing_bound(f):
    check(f, np.array([0.5, -0.3, 1.2, 0.05]))


def _clip_function_one_bound(x):
    return np.sum(np.clip(x, 0.1))


def test_clip_function_one_bound_raises_as_numpy():
    x = np.array([0.5, -0.3])
    with pytest.raises(TypeError):
        _clip_function_one_bound(x)
    with pytest.raises(TypeError):
        srcad.grad(_clip_function_one_bound)(x)


# ---- the fields of NumPy 2's linalg results (corpus s12: `.logabsdet` was refused)
def _slogdet_fields(A):
    r = np.linalg.slogdet(A)
    return r.sign * r.logabsdet


def _eigh_qr_fields(A):
    return np.sum(np.linalg.eigh(A @ A.T).eigenvalues ** 2) + np.sum(np.linalg.qr(A).R)


def _svd_field(A):
    res = np.linalg.svd(A)
    return np.sum(res.S ** 2)


_SQUARE = np.array([[2.0, 0.3, 0.1], [0.2, 1.5, 0.4], [0.1, -0.3, 1.2]])


@pytest.mark.parametrize("f", [_slogdet_fields, _eigh_qr_fields, _svd_field])
def test_linalg_result_fields(f):
    check(f, _SQUARE.copy())


def _field_of_rebound(A):
    r = np.linalg.slogdet(A)
    r = (1.0, np.sum(A))
    return r.logabsdet


def test_field_of_a_name_bound_twice_stays_refused():
    with pytest.raises(srcad.SrcadSyntaxError, match="logabsdet") as info:
        srcad.grad(_field_of_rebound)(_SQUARE.copy())
    assert "test_issue13_last.py" in str(info.value)


# ---- a forward derivative called with a tuple of tangents: the hint says the convention
def _two_args(a, b):
    return np.sum(np.sin(a) * b ** 2)


def test_hvp_tuple_of_vectors_hint():
    a, b = np.array([0.1, 0.2]), np.array([0.3, 0.4])
    with pytest.raises(srcad.ArgumentError, match="one tangent per wrt argument"):
        srcad.hvp(_two_args, wrt=(0, 1))(a, b, (a, b))

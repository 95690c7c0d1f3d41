"""Issue 13, the Python around numerics: forms refused before, each against central finite
differences (float64) in reverse, forward and hvp.

1. ``max(xs)``/``min(xs)`` of a list the function makes (a display, appends, a list
   comprehension), with ``key=`` and ``default=``: the first greatest (least) item, and
   ``ValueError`` of an empty list, as Python's (no rule fitted one argument before);
   ``sorted(xs)`` of one (``key=``, ``reverse=``), stable as Python's (no rule before).
2. ``(y := e)`` in the value of a dict comprehension over constants binds ``y`` in the
   function, item by item; two ``:=`` of one name in one statement each read their own value
   (``[(y := a), (y := b)]`` read ``b`` twice: a wrong gradient before).
3. ``isinstance(p, tuple)`` of a tuple of Python floats (decided by the container's
   structure; this already worked before, tested here).
4. A local ``functools.partial`` passed to a helper or stored in a list: the nested def it
   stands for (refused before where it was called).
5. A lambda or nested def differentiated inside the function reading the enclosing dict's
   items by constant keys (``p['W']``): those items' names are its enclosing locals (refused
   before).
"""
import functools

import numpy as np
import pytest

import srcad

from test_issue13_last import EPS, SHAPES, _arr, check


# -- 1. max/min of a list held in a name -------------------------------------------------------

def max_of_losses(x):
    losses = [np.sum(x ** 2), np.sum(np.sin(x)), np.sum(x) * 0.5]
    return max(losses)


def min_plus_sum(x):
    losses = [np.sum(x ** 2), np.sum(np.sin(x)), np.sum(np.cos(x))]
    return min(losses) * sum(losses)


def max_appended_key(x):
    hs = []
    for i in range(3):
        hs.append(x * (i - 1.2))
    return np.sum(max(hs, key=np.sum) ** 2)


def min_key_lambda(x):
    hs = [x * 2.0, np.sin(x), x ** 2]
    return np.sum(np.exp(min(hs, key=lambda v: np.sum(v * v))))


def max_default(x):
    xs = []
    return max(xs, default=np.sum(x ** 3))


def max_comprehension_default(x):
    return max((np.sum(v) for v in [x, 2.0 * x] if np.sum(v) > 100.0),
               default=np.sum(np.tanh(x)))


def first_of_equals(x):
    xs = [np.sum(x), np.sum(x), 0.5 * np.sum(x * x)]
    return max(xs) * 3.0 if np.sum(x) > np.sum(x * x) else min(xs)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("f", [max_of_losses, min_plus_sum, max_appended_key, min_key_lambda,
                               max_default, max_comprehension_default, first_of_equals])
def test_extreme_of_list(f, shape):
    check(f, _arr(shape, 3))


def test_extreme_of_list_of_floats():
    def best(w):
        scores = [float(k) for k in range(3)]
        return w * max(scores) + min([w, 2.0 * w])
    assert srcad.grad(best)(1.5) == pytest.approx(3.0)
    assert srcad.grad(best)(-1.5) == pytest.approx(4.0)


def test_extreme_first_of_equal_items():
    """Python keeps the first of equal items: the gradient flows into it alone."""
    def f(x):
        xs = [x[0] * 1.0, x[1] * 1.0]
        return max(xs)
    np.testing.assert_array_equal(srcad.grad(f)(np.array([2.0, 2.0])), [1.0, 0.0])


def test_extreme_of_empty_list_raises():
    def f(x):
        xs = []
        return max(xs) + np.sum(x)
    with pytest.raises(ValueError, match="empty sequence") as info:
        srcad.grad(f)(np.ones(3))
    assert not isinstance(info.value, srcad.SrcadError)      # Python's, at run time


def test_extreme_of_empty_list_default():
    def f(x):
        xs = []
        for i in range(len(x) - 3):
            xs.append(x[i] * 2.0)
        return max(xs, key=lambda v: -v, default=np.sum(x))
    np.testing.assert_allclose(srcad.grad(f)(np.ones(3)), np.ones(3))
    np.testing.assert_allclose(srcad.grad(f)(np.arange(5.0)), [2.0, 0, 0, 0, 0])


def sorted_losses(x):
    xs = [np.sum(x ** 2), np.sum(np.sin(x)), np.sum(x) * 0.5]
    s = sorted(xs)
    return s[0] + 2.0 * s[1] + 3.0 * s[2]


def sorted_key_reverse(x):
    hs = [x * 2.0, np.sin(x), x ** 2]
    s = sorted(hs, key=np.sum, reverse=True)
    return np.sum(s[0] * 3.0 + s[2])


def sorted_comprehension(x):
    s = sorted([np.sum(v) for v in (x, 2.0 * x, np.cos(x))])
    return s[0] * 5.0 + s[2]


def sorted_key_lambda(x):
    hs = [x * 2.0, np.sin(x), x ** 2]
    s = sorted(hs, key=lambda v: -np.sum(v * v))
    return np.sum(s[0] + 2.0 * s[1] + 3.0 * s[2])


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("f", [sorted_losses, sorted_key_reverse, sorted_comprehension,
                               sorted_key_lambda])
def test_sorted_of_list(f, shape):
    check(f, _arr(shape, 13))


def test_sorted_stable_with_reverse():
    """Equal items keep their order, with reverse=True too (Python's sort is stable)."""
    def f(x):
        xs = [x[0] * 1.0, x[1] * 1.0, x[2] * 1.0]
        s = sorted(xs, reverse=True)
        return s[0] + 2.0 * s[1] + 3.0 * s[2]
    np.testing.assert_array_equal(srcad.grad(f)(np.array([1.0, 2.0, 1.0])), [2.0, 1.0, 3.0])
    np.testing.assert_array_equal(srcad.grad(f)(np.array([1.0, 1.0, 1.0])), [1.0, 2.0, 3.0])


# -- 2. := in a dict comprehension ------------------------------------------------------------

def dict_walrus(x):
    d = {k: (y := x * k) for k in (1.0, 2.0)}
    return np.sum(d[1.0] + 3.0 * np.sin(d[2.0]) + 10.0 * y ** 2)


def dict_walrus_range(x):
    d = {k: np.sin(y := x * (k + 1.0)) for k in range(3)}
    return np.sum(d[0] * y + d[2])


def two_walrus_one_statement(x):
    pair = [(y := np.sin(x)), (y := x * 2.0)]
    return np.sum(pair[0] * 7.0 + pair[1]) + np.sum(y ** 2)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("f", [dict_walrus, dict_walrus_range, two_walrus_one_statement])
def test_walrus_bindings(f, shape):
    check(f, _arr(shape, 4))


def test_walrus_in_dict_comprehension_over_container_refused():
    def f(p, x):
        d = {k: (y := p[k] * x) for k in p}
        return np.sum(d["a"] + y)
    with pytest.raises(srcad.SrcadError, match="dict comprehension srcad does not unroll") as e:
        srcad.grad(f, wrt=1)({"a": 1.0, "b": 2.0}, np.ones(3))
    assert "y = d[last_key]" in str(e.value)


# -- 3. isinstance of a tuple of floats --------------------------------------------------------

def tuple_or_number(p, x):
    if isinstance(p, tuple):
        a, b = p
    else:
        a = b = p
    return np.sum(np.sin(a * x)) * b


@pytest.mark.parametrize("shape", SHAPES)
def test_isinstance_tuple_of_floats(shape):
    x = _arr(shape, 5)
    check(tuple_or_number, (0.5, 0.7), x)
    check(tuple_or_number, (0.5, 0.7), x, wrt=1)
    check(tuple_or_number, 0.6, x)


def dict_walrus_enumerate(x):
    d = {k: (v := np.sin(x * (i + 1.0))) for i, k in enumerate(("a", "b"))}
    return np.sum(d["a"] * v) + np.sum(d["b"])


@pytest.mark.parametrize("shape", SHAPES)
def test_walrus_dict_comprehension_over_enumerate(shape):
    check(dict_walrus_enumerate, _arr(shape, 6))


# -- 4. a local functools.partial used as a value ----------------------------------------------

def _apply(g, x):
    return g(x)


def _scale(a, x, b=1.0):
    return a * np.sin(x) * b


def partial_to_helper(x):
    g = functools.partial(_scale, 2.0)
    return np.sum(_apply(g, x) ** 2)


def partial_in_list(x):
    g = functools.partial(_scale, 2.0, b=3.0)
    fs = [g, np.tanh]
    return np.sum(fs[0](x) * fs[1](x))


def partial_bound_by_keyword(x):
    c = np.sum(x ** 2)
    g = functools.partial(_scale, b=c)
    return np.sum(_apply(lambda v: g(1.5, v), x)) + np.sum(g(0.5, x))


def partial_of_value_rebound(x):
    a = np.cos(x)
    g = functools.partial(_scale, a)
    a = a * 2.0                     # the partial keeps the value it was made with
    return np.sum(_apply(g, x) * a)


def _loss(a, x, b=1.0):
    return np.sum(a * np.sin(x) ** 2 * b)


def partial_differentiated(x):
    g = functools.partial(_loss, 1.5)
    gs = [g]
    return np.sum(srcad.grad(gs[0])(x) * x) + _apply(g, x)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("f", [partial_to_helper, partial_in_list, partial_bound_by_keyword,
                               partial_of_value_rebound, partial_differentiated])
def test_partial_as_value(f, shape):
    check(f, _arr(shape, 7))


def test_partial_as_value_of_unspellable_signature():
    """np.sum's signature has defaults that are no literals (np._NoValue): left as before,
    refused where it is called."""
    def f(x):
        g = functools.partial(np.sum, axis=0)
        return np.sum(_apply(g, x))
    with pytest.raises(srcad.SrcadError, match="cannot call the local name `g`"):
        srcad.grad(f)(np.ones(3))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", ["partial_of_rebound", "hvp_of_keyword_partial",
                                  "made_used_as_value"])
def test_partials_refused_before(name, shape):
    """tests/test_nested_local_grad.py's partials used as values (srcad.grad(g), stored in a
    list): refused before, nested defs now."""
    import test_nested_local_grad
    check(getattr(test_nested_local_grad, name), _arr(shape, 8))


# -- 5. a lambda or nested def reading the enclosing function's container, differentiated ------

def grad_of_lambda_reading_dict(p, x):
    gx = srcad.grad(lambda v: np.sum(np.tanh(p["W"] @ v)))(x)
    return np.sum(gx ** 2)


def grad_of_def_reading_dict(p, x):
    def inner(v):
        h = np.tanh(p["W"] @ v + p["b"])
        return np.sum(h ** 2)
    g = srcad.grad(inner)(x)
    return np.sum(g * x) + np.sum(p["b"] ** 2)


def jvp_of_lambda_reading_dict(p, x):
    _, t = srcad.jvp(lambda v: np.sin(p["W"] @ v), (x,), (x,))
    return np.sum(t * p["b"])


def grad_of_lambda_reading_tuple(p, x):
    return np.sum(srcad.grad(lambda v: np.sum(np.sin(p[0] * v)) * p[1])(x) ** 2)


def _dict_args(n, seed):
    rng = np.random.default_rng(seed)
    return {"W": rng.standard_normal((n, n)) * 0.5, "b": rng.standard_normal(n) * 0.5}, \
        rng.standard_normal(n) * 0.5


def _fd_dict(f, p, x):
    out = {}
    for k, v in p.items():
        g = np.zeros_like(v)
        for i in np.ndindex(v.shape):
            e = np.zeros_like(v)
            e[i] = EPS
            g[i] = (f({**p, k: v + e}, x) - f({**p, k: v - e}, x)) / (2 * EPS)
        out[k] = g
    return out


@pytest.mark.parametrize("n", [2, 3, 5])
@pytest.mark.parametrize("f", [grad_of_lambda_reading_dict, grad_of_def_reading_dict,
                               jvp_of_lambda_reading_dict])
def test_local_function_reading_container_differentiated(f, n):
    p, x = _dict_args(n, 9)
    check(f, p, x, wrt=1)
    g = srcad.grad(f)(p, x)                 # with respect to the dict: each leaf
    ref = _fd_dict(f, p, x)
    for k in p:
        np.testing.assert_allclose(g[k], ref[k], rtol=1e-6, atol=1e-7)
    t = {k: np.random.default_rng(2).standard_normal(v.shape) for k, v in p.items()}
    _, jt = srcad.jvp(f, (p, x), (t,), wrt=0)
    expect = (f({k: p[k] + EPS * t[k] for k in p}, x) -
              f({k: p[k] - EPS * t[k] for k in p}, x)) / (2 * EPS)
    np.testing.assert_allclose(jt, expect, rtol=1e-6, atol=1e-7)
    hv = srcad.hvp(f)(p, x, t)
    gr = srcad.grad(f)
    plus, minus = gr({k: p[k] + EPS * t[k] for k in p}, x), gr({k: p[k] - EPS * t[k] for k in p}, x)
    for k in p:
        np.testing.assert_allclose(hv[k], (plus[k] - minus[k]) / (2 * EPS), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", SHAPES)
def test_local_function_reading_tuple_differentiated(shape):
    p, x = (_arr(shape, 10), 0.7), _arr(shape, 11)
    check(grad_of_lambda_reading_tuple, p, x)
    check(grad_of_lambda_reading_tuple, p, x, wrt=1)


def _doubled(p):
    return p["W"] * 2.0


def test_local_function_passing_container_refused():
    """The container passed whole to a helper: refused where it is read, saying what to
    write."""
    def f(p, x):
        return np.sum(srcad.grad(lambda v: np.sum(_doubled(p) * v ** 2))(x))
    with pytest.raises(srcad.SrcadError, match="reads 'p' of the enclosing") as info:
        srcad.grad(f, wrt=1)({"W": np.ones(3)}, np.ones(3))
    assert "W = p['W']" in str(info.value)


@pytest.mark.parametrize("n", [2, 4])
def test_reads_container_refused_before(n):
    """tests/test_nested_local_grad.py's reads_container: refused before."""
    import test_nested_local_grad
    f = test_nested_local_grad.reads_container
    p, x = _dict_args(n, 12)
    p = {"W": p["W"][0]}
    check(f, p, x, wrt=1)
    g, ref = srcad.grad(f)(p, x), _fd_dict(f, p, x)
    np.testing.assert_allclose(g["W"], ref["W"], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("shape", [(3,), (4,), (6,)])
def test_corpus_s7_max_of_generator(shape):
    """tests/user_corpus_s7.py's builtin_max_gen, a build refusal before (min of a list
    display)."""
    import user_corpus_s7
    check(user_corpus_s7.builtin_max_gen, _arr(shape, 14))

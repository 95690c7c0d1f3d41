"""Control-flow and mutation corpus: functions with branches, loops, early exits and in-place
updates, each with an argument builder and, where one exists, a straight-line equivalent.

``CASES`` lists one :class:`Case` per checked call: the function, a builder of fresh float64
arguments, the arguments to differentiate, and optionally a reference function computing the
same value without the control flow (its derivatives must agree).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["Case", "CASES", "cases_by_id"]


def _rng(seed):
    return np.random.default_rng(seed)


def vec(n, seed=0, lo=None, hi=None):
    """A float64 vector (standard normal, or uniform in [lo, hi))."""
    g = _rng(seed)
    return g.standard_normal(n) if lo is None else g.uniform(lo, hi, n)


def mat(m, n, seed=0, scale=1.0):
    return scale * _rng(seed).standard_normal((m, n))


# =============================================================================================
# Branches
# =============================================================================================

def if_scalar(x):
    if x > 0.0:
        y = x * x + 1.0
    else:
        y = np.sin(x) - 2.0 * x
    return y * x


def if_elif_else(x):
    s = np.sum(x)
    if s > 1.0:
        y = np.sum(x * x)
    elif s > -1.0:
        y = np.sum(np.exp(x))
    else:
        y = np.sum(np.tanh(x)) * s
    return y


def if_static_flag(x, square):
    if square:
        y = x * x
    else:
        y = 3.0 * x
    return np.sum(y)


def if_static_string(x, reduction):
    y = np.sin(x) * x
    if reduction == "sum":
        return np.sum(y)
    elif reduction == "mean":
        return np.mean(y)
    return np.max(y)


def if_static_shape(x):
    if x.ndim == 2:
        y = np.sum(x * x, axis=1)
    else:
        y = x * x
    if x.shape[0] > 3:
        y = y[:3]
    return np.sum(np.sqrt(y + 1.0))


def cond_expr(x):
    y = x * x if np.sum(x) > 0.0 else np.exp(x)
    z = 2.0 * y if y[0] > 0.5 else y - 1.0
    return np.sum(z * x)


def bool_ops(x, y):
    if np.sum(x) > 0.0 and not np.sum(y) > 5.0 or x[0] < -1.0:
        r = np.sum(x * y)
    else:
        r = np.sum(x - y)
    if not (x[1] > 0.0 or y[1] > 0.0):
        r = r * 2.0
    return r


def is_none(x, w=None):
    if w is None:
        w = np.ones_like(x)
    return np.sum(w * x * x)


def is_not_none(x, shift=None):
    y = np.cos(x)
    if shift is not None:
        y = y + shift * x
    return np.sum(y * y)


def nested_branches(x):
    s = 0.0
    if x[0] > 0.0:
        if x[1] > 0.0:
            s = x[0] * x[1]
        else:
            s = x[0] - x[1]
    else:
        if x[2] > x[1]:
            s = np.exp(x[2])
        else:
            s = x[2] * x[2] * x[1]
    return s


def piecewise_loop(x):
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        if x[i] > 0.5:
            out[i] = x[i] * x[i]
        elif x[i] > -0.5:
            out[i] = np.sin(x[i])
        else:
            out[i] = -x[i]
    return np.sum(out * np.arange(1.0, x.shape[0] + 1.0))


def piecewise_ref(x):
    out = np.where(x > 0.5, x * x, np.where(x > -0.5, np.sin(x), -x))
    return np.sum(out * np.arange(1.0, x.shape[0] + 1.0))


# =============================================================================================
# for over range
# =============================================================================================

def range_shape_bounds(x):
    s = 0.0
    for i in range(1, x.shape[0] - 1):
        s = s + x[i - 1] * x[i + 1] + x[i]
    return s


def range_shape_bounds_ref(x):
    return np.sum(x[:-2] * x[2:]) + np.sum(x[1:-1])


def range_zero_trip(x):
    s = np.sum(x * x)
    for i in range(0):
        s = s * x[i]
    for j in range(x.shape[0], 2):
        s = s + np.exp(x[0])
    for k in range(5, 5):
        s = s - x[1]
    return s


def range_zero_trip_ref(x):
    return np.sum(x * x)


def range_negative_step(x):
    s = 0.0
    n = x.shape[0]
    for i in range(n - 1, -1, -2):
        s = s * 0.5 + x[i] * (i + 1.0)
    return s


def range_param_trips(x, n):
    y = x
    for i in range(n):
        y = np.sin(y) + 0.1 * i * x
    return np.sum(y)


def horner(c, x):
    y = np.zeros_like(x)
    for k in range(c.shape[0]):
        y = y * x + c[k]
    return np.sum(y)


def horner_ref(c, x):
    powers = np.arange(c.shape[0] - 1.0, -1.0, -1.0)
    return np.sum(c[:, None] * x[None, :] ** powers[:, None])


def loop_matmul(a, b):
    m, k = a.shape
    n = b.shape[1]
    c = np.zeros((m, n))
    for i in range(m):
        for j in range(n):
            acc = 0.0
            for p in range(k):
                acc = acc + a[i, p] * b[p, j]
            c[i, j] = acc
    return np.sum(c * c)


def loop_matmul_ref(a, b):
    c = a @ b
    return np.sum(c * c)


def loop_index_modulo(x):
    n = x.shape[0]
    s = 0.0
    for i in range(2 * n):
        s = s + x[i % n] * x[(i + 1) % n]
    return s


def loop_index_modulo_ref(x):
    return 2.0 * np.sum(x * np.roll(x, -1))


def loop_var_after_loop(x):
    i = 0
    for i in range(x.shape[0]):
        pass
    return x[i] * x[i] + x[0]


def cumprod_loop(x):
    out = np.empty_like(x)
    acc = 1.0
    for i in range(x.shape[0]):
        acc = acc * x[i]
        out[i] = acc
    return np.sum(out)


def cumprod_ref(x):
    return np.sum(np.cumprod(x))


# =============================================================================================
# for over arrays, enumerate, zip, lists
# =============================================================================================

def loop_rows(a):
    s = 0.0
    for row in a:
        s = s + np.sum(row * row) * row[0]
    return s


def loop_rows_ref(a):
    return np.sum(np.sum(a * a, axis=1) * a[:, 0])


def loop_columns(a, w):
    out = np.zeros(a.shape[0])
    for col in a.T:
        out = out + np.tanh(col * w)
    return np.sum(out * out)


def loop_enumerate(x):
    s = 0.0
    for i, v in enumerate(x):
        s = s + (i + 1.0) * v * v
    return s


def loop_enumerate_ref(x):
    return np.sum(np.arange(1.0, x.shape[0] + 1.0) * x * x)


def loop_enumerate_start(x):
    s = 0.0
    for i, v in enumerate(x, 2):
        s = s + i * np.sin(v)
    return s


def loop_zip(x, y):
    s = 0.0
    for a, b in zip(x, y):
        s = s + a * b
    return s


def loop_zip_ref(x, y):
    return np.dot(x, y)


def loop_zip_three(x, y, z):
    s = 0.0
    for a, b, c in zip(x, y, z):
        s = s + a * b - np.exp(c) * a
    return s


def loop_zip_rows(a, b):
    s = 0.0
    for ra, rb in zip(a, b):
        s = s + np.dot(ra, rb) ** 2
    return s


def loop_static_tuple(x):
    y = x
    for w in (0.5, 0.25, 2.0):
        y = np.sin(w * y) + x
    return np.sum(y)


def list_stack(x):
    rows = []
    for i in range(x.shape[0]):
        rows.append(x * x[i])
    m = np.stack(rows)
    return np.sum(m * np.arange(m.size).reshape(m.shape))


def list_stack_ref(x):
    m = np.outer(x, x)
    return np.sum(m * np.arange(m.size).reshape(m.shape))


def list_array(x):
    vals = []
    for i in range(x.shape[0] - 1):
        vals.append(x[i] * x[i + 1])
    v = np.array(vals)
    return np.sum(v * v)


def list_array_ref(x):
    v = x[:-1] * x[1:]
    return np.sum(v * v)


def list_builtin_sum(x):
    terms = []
    for i in range(x.shape[0]):
        terms.append(np.sin(x[i]) * x[i])
    return sum(terms)


def list_builtin_sum_ref(x):
    return np.sum(np.sin(x) * x)


def list_iterate(x):
    parts = []
    for k in range(3):
        parts.append(x * (k + 1.0))
    s = 0.0
    for p in parts:
        s = s + np.sum(np.exp(0.1 * p))
    return s


def list_arg(xs):
    s = 0.0
    for a in xs:
        s = s + np.sum(a * a) * a[0]
    return s


def tuple_arg(pair):
    a, b = pair
    for i in range(2):
        a, b = b, a + 0.5 * b
    return np.sum(a * b)


def tuple_output(x):
    lo = np.zeros_like(x)
    hi = np.zeros_like(x)
    for i in range(x.shape[0]):
        if x[i] < 0.0:
            lo[i] = x[i]
        else:
            hi[i] = x[i] * x[i]
    return lo, hi


def tuple_output_ref(x):
    return np.where(x < 0.0, x, 0.0), np.where(x < 0.0, 0.0, x * x)


def fibonacci_swap(a, b):
    for _ in range(5):
        a, b = b, a + b
    return np.sum(a * b)


def fibonacci_swap_ref(a, b):
    return np.sum((3.0 * a + 5.0 * b) * (5.0 * a + 8.0 * b))


# =============================================================================================
# while, break, continue, returns
# =============================================================================================

def while_data_exit(x):
    y = x
    while y < 10.0:
        y = y * 1.5 + 0.2 * x
    return y


def while_counter(x, n):
    i = 0
    y = x
    while i < n:
        y = np.cos(y) * x
        i = i + 1
    return np.sum(y)


def while_counter_ref(x, n):
    y = x
    for i in range(n):
        y = np.cos(y) * x
    return np.sum(y)


def while_active_cond(x):
    s = 0.0
    k = 0
    while s < 5.0:
        s = s + x * x + 0.5
        k = k + 1
    return s * x + k


def while_true_break(x):
    y = x
    while True:
        y = 0.5 * y + 1.0
        if np.max(y) > 1.8:
            break
    return np.sum(y * y)


def newton_sqrt(a):
    y = a
    while abs(y * y - a) > 1e-14 * a:
        y = 0.5 * (y + a / y)
    return y


def newton_sqrt_ref(a):
    return math.sqrt(a)


def fixed_point_two_conditions(x):
    y = np.zeros_like(x)
    err = 1.0
    it = 0
    while err > 1e-13 and it < 200:
        y_new = 0.5 * np.cos(y) + x
        err = np.max(np.abs(y_new - y))
        y = y_new
        it = it + 1
    return np.sum(y)


def break_loop(x):
    s = 0.0
    for i in range(x.shape[0]):
        s = s + x[i] * x[i]
        if s > 2.0:
            break
    return s


def break_first(x):
    s = x[0]
    for i in range(x.shape[0]):
        s = s * np.exp(x[i])
        break
    return s + x[1]


def break_first_ref(x):
    return x[0] * np.exp(x[0]) + x[1]


def continue_loop(x):
    s = 0.0
    for i in range(x.shape[0]):
        if x[i] < 0.0:
            continue
        s = s + x[i] * x[i] * (i + 1.0)
    return s


def continue_ref(x):
    return np.sum(np.where(x < 0.0, 0.0, x * x) * np.arange(1.0, x.shape[0] + 1.0))


def break_and_continue(x):
    s = 0.0
    for v in x:
        if v < -0.5:
            continue
        if v > 1.5:
            break
        s = s + np.sin(v) * v
    return s


def inner_break(a):
    total = 0.0
    for i in range(a.shape[0]):
        row = 0.0
        for j in range(a.shape[1]):
            if a[i, j] > 1.0:
                break
            row = row + a[i, j] * a[i, j]
        total = total + row * (i + 1.0)
    return total


def early_return(x):
    s = 0.0
    for i in range(x.shape[0]):
        if x[i] > 1.2:
            return s * x[i]
        s = s + np.exp(x[i])
    return s


def early_return_nested(a):
    s = 0.0
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            s = s + a[i, j] * a[i, j]
            if s > 3.0:
                return s * a[i, j]
    return -s


def multiple_returns(x):
    s = np.sum(x)
    if s > 1.0:
        return np.sum(x * x)
    elif s > -1.0:
        return np.sum(np.sin(x)) * s
    return s * s * s


def return_in_both_branches(x, flag):
    if flag:
        y = x * 2.0
        return np.sum(y * y)
    else:
        return np.sum(np.exp(x))


def trips_from_values(x):
    n = int(np.sum(x > 0.0))
    s = 0.0
    for i in range(n):
        s = s + x[i] * x[i]
    return s


def trips_from_int_of_active(x):
    n = int(abs(x[0]) * 3.0) + 1
    y = x
    for i in range(n):
        y = y * np.cos(y)
    return np.sum(y)


# =============================================================================================
# In-place updates and buffers
# =============================================================================================

def inplace_square(x):
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        out[i] = x[i] * x[i]
    return np.sum(out * np.cos(x))


def inplace_square_ref(x):
    return np.sum(x * x * np.cos(x))


def inplace_column_accumulate(a, x):
    out = np.zeros((a.shape[0], a.shape[1]))
    for j in range(a.shape[1]):
        out[:, j] += a[:, j] * x[j]
        out[:, j] += np.sin(a[:, j])
    return np.sum(out * out)


def inplace_column_accumulate_ref(a, x):
    out = a * x + np.sin(a)
    return np.sum(out * out)


def inplace_mask_scale(x):
    y = x.copy()
    mask = y > 0.0
    y[mask] *= 3.0
    y[~mask] *= y[~mask]
    return np.sum(y * x)


def inplace_mask_scale_ref(x):
    y = np.where(x > 0.0, 3.0 * x, x * x)
    return np.sum(y * x)


def inplace_diagonal(m, x):
    a = m.copy()
    for i in range(a.shape[0]):
        a[i, i] -= x[i] * a[i, i]
    return np.sum(a * a)


def inplace_diagonal_ref(m, x):
    a = m - np.diag(x * np.diagonal(m))
    return np.sum(a * a)


def inplace_overwrite_twice(x):
    out = np.zeros(3)
    out[0] = x[0] * x[1]
    out[0] = out[0] * x[2] + x[0]
    out[1] = x[1]
    out[1] = np.sin(out[1])
    out[2] = out[0] * out[1]
    out[0] = 2.0
    return np.sum(out * out)


def inplace_overwrite_twice_ref(x):
    a = x[0] * x[1] * x[2] + x[0]
    b = np.sin(x[1])
    return 4.0 + b * b + (a * b) ** 2


def inplace_loop_overwrite(x):
    out = np.zeros(2)
    for i in range(x.shape[0]):
        out[i % 2] = out[i % 2] * 0.5 + x[i] * x[i]
    return out[0] * out[1]


def empty_buffer(x):
    out = np.empty(x.shape[0] - 1)
    for i in range(x.shape[0] - 1):
        out[i] = x[i + 1] - x[i]
    return np.sum(out ** 3)


def empty_buffer_ref(x):
    return np.sum((x[1:] - x[:-1]) ** 3)


def ones_buffer(x):
    out = np.ones((3, x.shape[0]))
    for k in range(3):
        out[k] = out[k] * x ** (k + 1)
    return np.sum(np.log(1.0 + out * out))


def ones_buffer_ref(x):
    out = np.stack([x, x * x, x ** 3])
    return np.sum(np.log(1.0 + out * out))


def copy_buffer(x):
    y = x.copy()
    for i in range(1, y.shape[0]):
        y[i] = y[i] + 0.5 * y[i - 1]
    return np.sum(y * y)


def slice_self_update(x):
    y = x.copy()
    for _ in range(3):
        y[1:] = y[1:] + 0.5 * y[:-1]
    y[:3] = y[1:4] * 2.0
    return np.sum(y * np.arange(y.shape[0]))


def slice_2d_scale(a, x):
    b = a.copy()
    b[1:3, :] *= x
    b[:, 0] = b[:, 1] * b[:, 0]
    return np.sum(b * b)


def fancy_repeated_add(x):
    out = np.zeros(4)
    idx = np.array([0, 2, 0, 3])
    for k in range(2):
        out[idx] += x * (k + 1.0)
    return np.sum(out * out)


def fancy_repeated_add_ref(x):
    # NumPy semantics: with a repeated index, out[idx] += v keeps the last write only
    out = 3.0 * np.stack([x[2], 0.0 * x[0], x[1], x[3]])
    return np.sum(out * out)


def conv1d_loops(x, k):
    n = x.shape[0] - k.shape[0] + 1
    out = np.zeros(n)
    for i in range(n):
        for j in range(k.shape[0]):
            out[i] += x[i + j] * k[j]
    return np.sum(out * out)


def conv1d_ref(x, k):
    n = x.shape[0] - 2
    out = x[:n] * k[0] + x[1:n + 1] * k[1] + x[2:n + 2] * k[2]   # k has 3 taps
    return np.sum(out * out)


def dp_prefix(x):
    c = np.zeros(x.shape[0])
    c[0] = x[0]
    for i in range(1, x.shape[0]):
        c[i] = c[i - 1] + x[i] * x[i]
    return np.sum(c)


def dp_prefix_ref(x):
    y = x * x
    y[0] = x[0]
    return np.sum(np.cumsum(y))


def soft_dtw(cost, gamma):
    n, m = cost.shape
    r = np.full((n + 1, m + 1), 1e10)
    r[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            a = -r[i - 1, j] / gamma
            b = -r[i, j - 1] / gamma
            c = -r[i - 1, j - 1] / gamma
            mx = max(max(a, b), c)
            soft = -gamma * (mx + np.log(np.exp(a - mx) + np.exp(b - mx) + np.exp(c - mx)))
            r[i, j] = cost[i - 1, j - 1] + soft
    return r[n, m]


def euler_heat(u0, kappa):
    u = u0.copy()
    dt = 0.1
    for t in range(20):
        u[1:-1] = u[1:-1] + dt * kappa * (u[2:] - 2.0 * u[1:-1] + u[:-2])
    return np.sum(u * u)


def euler_heat_ref(u0, kappa):
    n = u0.shape[0]
    lap = np.zeros((n, n))
    for i in range(1, n - 1):
        lap[i, i - 1] = 1.0
        lap[i, i] = -2.0
        lap[i, i + 1] = 1.0
    step = np.eye(n) + 0.1 * kappa * lap
    u = u0
    for t in range(20):
        u = step @ u
    return np.sum(u * u)


def euler_state_buffer(y0, k):
    traj = np.zeros((51, y0.shape[0]))
    traj[0] = y0
    for t in range(50):
        y = traj[t]
        traj[t + 1] = y + 0.02 * (-k * y + np.sin(y[::-1]))
    return np.sum(traj[-1] * traj[-1]) + np.mean(traj)


def shrinking_loop(x):
    y = x
    for i in range(3):
        y = y[1:] * y[:-1]
    return np.sum(y)


def slice_rebind_in_branch(x):
    y = x * 1.0
    if x.shape[0] > 3:
        y = y[:3]
    return np.sum(y * y)


def slice_rebind_in_branch_ref(x):
    y = x[:3]
    return np.sum(y * y)


def inplace_on_argument(x):
    x[0] = x[0] * x[1]
    x[2] += np.sin(x[0])
    return np.sum(x * x)


def early_return_mean_after_write(x):
    y = x * 2.0
    y[0] = 1.0
    if np.sum(x) > 0.0:
        return np.sum(np.mean(y, axis=0))
    return np.sum(x)


def copy_then_loop_writes(x):
    y = x * x
    z = y - 0.0
    for i in range(2):
        y[i] = y[i + 1] * x[i]
    return np.sum(z * y)


def rows_read_then_overwritten(w):
    v = w - 0.0
    for i in range(2):
        v[i] = v[i + 1] * v[i]
    u = v / 1.0
    return np.sum(u * w)


def view_write_through(x):
    buf = x.copy()
    v = buf[1:]
    v[0] = v[0] * 3.0
    return np.sum(buf * buf)


def view_write_through_ref(x):
    buf = np.concatenate([x[:1], 3.0 * x[1:2], x[2:]])
    return np.sum(buf * buf)


def loop_reversed_range(x):
    s = 0.0
    for i in reversed(range(x.shape[0])):
        s = s * 0.5 + x[i] * x[i]
    return s


def loop_len_range(x):
    s = 0.0
    for i in range(len(x)):
        s = s + x[i] * np.cos(x[i])
    return s


def loop_len_range_ref(x):
    return np.sum(x * np.cos(x))


def loop_list_literal(x, y):
    s = 0.0
    for a in [x, y, x * y]:
        s = s + np.sum(np.sin(a))
    return s


def loop_list_literal_ref(x, y):
    return np.sum(np.sin(x)) + np.sum(np.sin(y)) + np.sum(np.sin(x * y))


def while_break_continue(x):
    i = 0
    s = 0.0
    while i < x.shape[0]:
        i = i + 1
        if x[i - 1] < 0.0:
            continue
        if s > 1.5:
            break
        s = s + x[i - 1] * x[i - 1]
    return s


def while_early_return(x):
    y = x
    k = 0
    while k < 10:
        y = y * 1.3
        if np.sum(y) > 4.0:
            return np.sum(y * y)
        k = k + 1
    return np.sum(y)


def forward_substitution(low, b):
    n = b.shape[0]
    y = np.zeros(n)
    for i in range(n):
        acc = b[i]
        for j in range(i):
            acc = acc - low[i, j] * y[j]
        y[i] = acc / low[i, i]
    return np.sum(y * y)


def forward_substitution_ref(low, b):
    y = np.linalg.solve(np.tril(low), b)
    return np.sum(y * y)


def gauss_eliminate(a, b):
    m = a.copy()
    r = b.copy()
    n = r.shape[0]
    for k in range(n):
        for i in range(k + 1, n):
            factor = m[i, k] / m[k, k]
            m[i, k:] -= factor * m[k, k:]
            r[i] -= factor * r[k]
    x = np.zeros(n)
    for i in range(n - 1, -1, -1):
        x[i] = (r[i] - np.dot(m[i, i + 1:], x[i + 1:])) / m[i, i]
    return np.sum(x * np.arange(1.0, n + 1.0))


def gauss_eliminate_ref(a, b):
    x = np.linalg.solve(a, b)
    return np.sum(x * np.arange(1.0, b.shape[0] + 1.0))


def cholesky_loops(a):
    n = a.shape[0]
    low = np.zeros((n, n))
    for j in range(n):
        s = a[j, j] - np.dot(low[j, :j], low[j, :j])
        low[j, j] = np.sqrt(s)
        for i in range(j + 1, n):
            low[i, j] = (a[i, j] - np.dot(low[i, :j], low[j, :j])) / low[j, j]
    return np.sum(low * np.arange(low.size).reshape(low.shape))


def cholesky_ref(a):
    low = np.linalg.cholesky(a)
    return np.sum(low * np.arange(low.size).reshape(low.shape))


def conditionally_defined(x):
    s = 0.0
    first = 0.0
    for i in range(x.shape[0]):
        if i == 0:
            first = x[i] * 2.0
        s = s + first * x[i]
    return s


def conditionally_defined_ref(x):
    return 2.0 * x[0] * np.sum(x)


def conditional_append(x):
    kept = []
    for v in x:
        if v > 0.0:
            kept.append(v * v)
    kept.append(x[0])
    return sum(kept)


def argmax_write(x):
    out = np.zeros_like(x)
    for k in range(2):
        out[np.argmax(x)] = out[np.argmax(x)] + x[np.argmax(x)] * (k + 1.0)
    return np.sum(out * x)


def rebind_parameter(x, n):
    for i in range(n):
        x = x + 0.1 * np.sin(x)
    return np.sum(x)


def range_param_step(x, step):
    s = 0.0
    for i in range(0, x.shape[0], step):
        s = s + x[i] * x[i]
    return s


def nested_while_in_for(x):
    s = 0.0
    for i in range(x.shape[0]):
        y = x[i]
        while y < 2.0:
            y = y * 1.5 + 0.5
        s = s + y * x[i]
    return s


def clip_loop(x, t):
    y = x.copy()
    for k in range(3):
        y[y > t] = t
        y = y * 1.2
    return np.sum(y * y)


def clip_loop_ref(x, t):
    y = x
    for k in range(3):
        y = np.where(y > t, t, y) * 1.2
    return np.sum(y * y)


def row_column_updates(a, b):
    c = np.zeros((a.shape[0], a.shape[1]))
    for i in range(a.shape[0]):
        c[i, :] += a[i] * b[i]
    for j in range(a.shape[1]):
        c[:, j] -= 0.5 * c[:, j] * b
    return np.sum(c * c)


def row_column_updates_ref(a, b):
    c = a * b[:, None]
    c = c - 0.5 * c * b[:, None]
    return np.sum(c * c)


def empty_input_zero_trip(x, y):
    s = np.sum(y * y)
    for i in range(x.shape[0]):
        s = s + x[i]
    return s


def enumerate_rows_write(a, w):
    out = np.empty(a.shape[0])
    for i, row in enumerate(a):
        out[i] = np.tanh(row @ w)
    return np.sum(out * out)


def enumerate_rows_write_ref(a, w):
    out = np.tanh(a @ w)
    return np.sum(out * out)


def while_any(x):
    y = x
    while np.any(np.abs(y) > 0.1):
        y = y * 0.5
    return np.sum(y * x)


def reset_in_loop(x):
    s = 0.0
    for i in range(x.shape[0]):
        if i == 2:
            s = 0.0
        s = s + x[i] * x[i]
    return s


def reset_in_loop_ref(x):
    return np.sum(x[2:] * x[2:])


def list_last_state(w, xs):
    hs = [np.zeros(w.shape[0])]
    for t in range(xs.shape[0]):
        hs.append(np.tanh(w @ hs[-1] + xs[t]))
    return np.sum(np.stack(hs) ** 2)


def list_item_assign(x):
    acc = [0.0, 0.0]
    for i in range(x.shape[0]):
        acc[i % 2] = acc[i % 2] + x[i] * x[i]
    return acc[0] * acc[1]


def chained_compare(x):
    s = 0.0
    for i in range(x.shape[0]):
        if -0.5 < x[i] < 0.5:
            s = s + np.sin(x[i])
        else:
            s = s + x[i] * 0.1
    return s


def chained_compare_ref(x):
    return np.sum(np.where((x > -0.5) & (x < 0.5), np.sin(x), 0.1 * x))


def builtin_min_max_abs_loop(x):
    s = 0.0
    for i in range(x.shape[0] - 1):
        s = s + max(x[i], x[i + 1]) - min(x[i], 0.0) + abs(x[i])
    return s


def builtin_min_max_abs_ref(x):
    return np.sum(np.maximum(x[:-1], x[1:]) - np.minimum(x[:-1], 0.0) + np.abs(x[:-1]))


def counter_weights(x):
    count = 0
    s = 0.0
    for v in x:
        if v > 0.0:
            count += 1
        s = s + v * count
    return s


def growing_slices(x):
    s = 0.0
    for i in range(1, x.shape[0] + 1):
        s = s + np.sum(x[:i]) * x[i - 1]
    return s


def growing_slices_ref(x):
    return np.sum(np.cumsum(x) * x)


def conditional_index_expr(x):
    n = x.shape[0]
    s = 0.0
    for i in range(n + 2):
        v = x[i] if i < n else 1.0
        s = s + v * v
    return s


def float_truthiness(x):
    s = 0.0
    for i in range(x.shape[0]):
        if x[i]:
            s = s + x[i] * x[i]
    return s


def _recursive(x, n):
    y = x
    if n > 0:
        y = _recursive(x * x, n - 1)
    return y


def recursion_helper(x):
    return np.sum(_recursive(x, 2))


def while_zero_trip(x):
    y = x * 2.0
    while np.sum(y) > 1e6:
        y = y * 0.5
    return np.sum(y * y)


def while_zero_trip_ref(x):
    return np.sum(4.0 * x * x)


def strided_slice_update(x):
    y = x.copy()
    y[::2] = y[1::2] * x[::2]
    y[1::2] -= 0.5 * y[::2]
    return np.sum(y * y)


def strided_slice_update_ref(x):
    even = x[1::2] * x[::2]
    odd = x[1::2] - 0.5 * even
    return np.sum(even * even) + np.sum(odd * odd)


def gauss_pivot(a, b):
    m = a.copy()
    r = b.copy()
    n = r.shape[0]
    for k in range(n):
        p = k + int(np.argmax(np.abs(m[k:, k])))
        if p != k:
            m[[k, p]] = m[[p, k]]
            r[[k, p]] = r[[p, k]]
        for i in range(k + 1, n):
            factor = m[i, k] / m[k, k]
            m[i, k:] = m[i, k:] - factor * m[k, k:]
            r[i] = r[i] - factor * r[k]
    x = np.zeros(n)
    for i in range(n - 1, -1, -1):
        x[i] = (r[i] - np.dot(m[i, i + 1:], x[i + 1:])) / m[i, i]
    return np.sum(x * np.arange(1.0, n + 1.0))


def bubble_sort(x):
    y = x.copy()
    n = y.shape[0]
    for i in range(n):
        for j in range(n - 1 - i):
            if y[j] > y[j + 1]:
                tmp = y[j]
                y[j] = y[j + 1]
                y[j + 1] = tmp
    return np.sum(y * np.arange(1.0, n + 1.0))


def bubble_sort_ref(x):
    return np.sum(np.sort(x) * np.arange(1.0, x.shape[0] + 1.0))


def prefix_recurrence(x):
    c = np.zeros(x.shape[0])
    c[0] = x[0]
    for i in range(1, x.shape[0]):
        c[i] = c[i - 1] * x[i] + x[i]
    return c


def euler_trajectory(y0, k):
    traj = np.zeros((6, y0.shape[0]))
    y = y0
    for t in range(6):
        traj[t] = y
        y = y + 0.1 * (-k * y * y)
    return traj


def early_return_tuple(x):
    acc = np.zeros_like(x)
    for i in range(x.shape[0]):
        acc = acc + x * x[i]
        if np.sum(acc) > 3.0:
            return np.sum(acc), acc
    return 0.5 * np.sum(acc), acc


def _lstm_like_step(h, c, x, w, u):
    gate = 1.0 / (1.0 + np.exp(-(w @ h + u @ x)))
    c_new = gate * c + (1.0 - gate) * np.tanh(u @ x)
    h_new = np.tanh(c_new) * gate
    return h_new, c_new


def lstm_like(w, u, xs):
    h = np.zeros(w.shape[0])
    c = np.zeros(w.shape[0])
    for t in range(xs.shape[0]):
        h, c = _lstm_like_step(h, c, xs[t], w, u)
    return np.sum(h * h) + np.sum(c)


def _poly_sum(x, order):
    s = np.zeros_like(x)
    for k in range(order):
        s = s + x ** (k + 1) / (k + 1.0)
    return s


def helper_with_loop_in_loop(x):
    total = 0.0
    for i in range(3):
        total = total + np.sum(_poly_sum(x * (i + 1.0), order=i + 1))
    return total


def _scaled(x, *, scale=1.0, shift=0.0):
    return scale * x + shift


def helper_keyword_only(x):
    y = x
    for i in range(3):
        if i == 1:
            y = _scaled(y, scale=0.5)
        else:
            y = _scaled(np.sin(y), shift=1.0, scale=2.0)
    return np.sum(y * y)


def _fill(buf, i, v):
    buf[i] = v
    return buf


def helper_mutates_argument(x):
    out = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        _fill(out, i, x[i] * x[i])
    return np.sum(out * x)


def helper_mutates_argument_ref(x):
    return np.sum(x * x * x)


def helper_mutates_alias(x):
    out = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        same = _fill(out, i, x[i] * x[i])  # noqa: F841 (the alias is the point)
    return np.sum(out * x)


def _fill_returned(buf, i, v):
    buf[i] = v
    return buf


def helper_mutates_and_rebinds(x):
    out = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        out = _fill_returned(out, i, np.sin(x[i]))
    return np.sum(out * x)


def helper_mutates_and_rebinds_ref(x):
    return np.sum(np.sin(x) * x)


# =============================================================================================
# Scalar Python loops
# =============================================================================================

def ode_oscillator(omega, damping):
    x = 1.0
    v = 0.0
    dt = 0.001
    for _ in range(1000):
        a = -omega * omega * x - damping * v
        v = v + dt * a
        x = x + dt * v
    return x * x + v


def thermal_simulation(r, c, heating, t_out):
    temp = 18.0
    dt = 60.0
    energy = 0.0
    for step in range(1000):
        hour = (step // 60) % 24
        q = heating[hour]
        outdoor = t_out[hour]
        flux = (outdoor - temp) / r + q
        temp = temp + dt * flux / c
        if temp > 22.0:
            energy = energy + (temp - 22.0) * (temp - 22.0)
        energy = energy + 1e-3 * q * q
    return energy + temp


def logistic_map_scalar(r):
    x = 0.3
    total = 0.0
    for i in range(1000):
        x = r * x * (1.0 - x)
        total = total + x * 0.001
    return total


# =============================================================================================
# Helpers inside loops and branches
# =============================================================================================

def _relax(u, dt, k=1.0, forcing=None):
    v = u - dt * k * u * u
    if forcing is not None:
        v = v + dt * forcing
    return v


def _relax_early(u, dt, k=1.0, forcing=None):
    if forcing is None:
        return u - dt * k * u * u
    return u - dt * k * u * u + dt * forcing


def _score(x, scale=2.0):
    return np.sum(np.tanh(scale * x))


def helper_in_loop(u0, k, f):
    u = u0
    for i in range(10):
        if i % 2 == 0:
            u = _relax(u, 0.05)
        else:
            u = _relax(u, dt=0.05, k=k, forcing=f)
    return np.sum(u)


def helper_early_return_in_loop(u0, k, f):
    u = u0
    for i in range(10):
        if i % 2 == 0:
            u = _relax_early(u, 0.05)
        else:
            u = _relax_early(u, dt=0.05, k=k, forcing=f)
    return np.sum(u)


def helper_in_branch(x):
    if _score(x) > 0.0:
        y = _score(x * x, scale=0.5)
    else:
        y = _score(x) * _score(x, 3.0)
    return y


def helper_returns_early(x, limit=1.0):
    if np.max(x) > limit:
        return np.sum(x)
    return np.sum(x * x)


def helper_with_early_return(x):
    s = 0.0
    for i in range(3):
        s = s + helper_returns_early(x * (i + 1.0), limit=2.0)
    return s


# =============================================================================================
# Pathological and realistic kernels
# =============================================================================================

def nested_shared_tape(x):
    y = x
    s = 0.0
    for i in range(3):
        z = y
        for j in range(2):
            z = np.sin(z) * x + j
            s = s + np.sum(z)
        y = z * 0.5
        s = s * 0.9
    return s + np.sum(y)


def triangular_nested(x):
    s = 0.0
    for i in range(x.shape[0]):
        for j in range(i):
            s = s + x[i] * x[j]
    return s


def triangular_ref(x):
    return 0.5 * (np.sum(x) ** 2 - np.sum(x * x))


def conv2d_loops(img, kern):
    kh, kw = kern.shape
    oh = img.shape[0] - kh + 1
    ow = img.shape[1] - kw + 1
    out = np.zeros((oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[i, j] = np.sum(img[i:i + kh, j:j + kw] * kern)
    return np.sum(np.tanh(out))


def conv2d_ref(img, kern):
    kh, kw = kern.shape
    oh = img.shape[0] - kh + 1
    ow = img.shape[1] - kw + 1
    out = np.zeros((oh, ow))
    for a in range(kh):
        for b in range(kw):
            out = out + kern[a, b] * img[a:a + oh, b:b + ow]
    return np.sum(np.tanh(out))


def maxpool_loops(x):
    h = x.shape[0] // 2
    w = x.shape[1] // 2
    out = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            out[i, j] = np.max(x[2 * i:2 * i + 2, 2 * j:2 * j + 2])
    return np.sum(out * out)


def maxpool_ref(x):
    h = x.shape[0] // 2
    w = x.shape[1] // 2
    out = np.max(x.reshape(h, 2, w, 2), axis=(1, 3))
    return np.sum(out * out)


def tanh_rnn(w, u, b, xs):
    h = np.zeros(w.shape[0])
    loss = 0.0
    for t in range(xs.shape[0]):
        h = np.tanh(w @ h + u @ xs[t] + b)
        loss = loss + np.sum(h * h) * (t + 1.0)
    return loss


def softmax_rows_loop(a):
    out = np.empty_like(a)
    for i in range(a.shape[0]):
        e = np.exp(a[i] - np.max(a[i]))
        out[i] = e / np.sum(e)
    return np.sum(out * np.arange(a.size).reshape(a.shape))


def softmax_rows_ref(a):
    e = np.exp(a - np.max(a, axis=1, keepdims=True))
    out = e / np.sum(e, axis=1, keepdims=True)
    return np.sum(out * np.arange(a.size).reshape(a.shape))


def power_iteration(a, v0):
    v = v0
    for _ in range(8):
        w = a @ v
        v = w / np.sqrt(np.sum(w * w))
    return v @ a @ v


def builtin_max3(x):
    s = 0.0
    for i in range(x.shape[0] - 2):
        s = s + max(x[i], x[i + 1], x[i + 2])
    return s


def builtin_max3_ref(x):
    return np.sum(np.maximum(np.maximum(x[:-2], x[1:-1]), x[2:]))


def aug_ops_scalar(x):
    s = 1.0
    for i in range(4):
        s += x * i
        s -= 0.5 * x
        s *= 1.1
        s /= 1.0 + x * x
    return s


def where_in_loop(x):
    y = x
    for i in range(4):
        y = np.where(y > 0.0, y * 0.8, y * y) + 0.1 * x
    return np.sum(y)


# =============================================================================================
# The case table
# =============================================================================================

@dataclass(frozen=True)
class Case:
    """One checked call: ``f(*args())`` differentiated with respect to ``wrt``."""
    id: str
    f: Callable
    args: Callable[[], list]
    wrt: object = 0
    ref: Callable | None = None


def _c(f, args, wrt=0, ref=None, tag=""):
    return Case(f.__name__ + (f"[{tag}]" if tag else ""), f, args, wrt, ref)


CASES = [
    # branches
    _c(if_scalar, lambda: [0.7], tag="pos"),
    _c(if_scalar, lambda: [-0.4], tag="neg"),
    _c(if_elif_else, lambda: [vec(4, 1, 0.5, 1.0)], tag="if"),
    _c(if_elif_else, lambda: [vec(4, 2, -0.2, 0.2)], tag="elif"),
    _c(if_elif_else, lambda: [vec(4, 3, -1.0, -0.5)], tag="else"),
    _c(if_static_flag, lambda: [vec(5), True], tag="True"),
    _c(if_static_flag, lambda: [vec(5), False], tag="False"),
    _c(if_static_string, lambda: [vec(5), "sum"], tag="sum"),
    _c(if_static_string, lambda: [vec(5), "mean"], tag="mean"),
    _c(if_static_string, lambda: [vec(5), "max"], tag="max"),
    _c(if_static_shape, lambda: [mat(5, 2)], tag="2d"),
    _c(if_static_shape, lambda: [vec(3)], tag="1d"),
    _c(cond_expr, lambda: [vec(4, 0, 0.6, 1.0)], tag="pos"),
    _c(cond_expr, lambda: [vec(4, 0, -1.0, -0.2)], tag="neg"),
    _c(bool_ops, lambda: [vec(3, 1, 0.1, 1.0), vec(3, 2, -1.0, -0.1)], wrt=(0, 1), tag="a"),
    _c(bool_ops, lambda: [vec(3, 1, -2.0, -1.1), vec(3, 2, 2.0, 3.0)], wrt=(0, 1), tag="b"),
    _c(is_none, lambda: [vec(4), None], tag="None"),
    _c(is_none, lambda: [vec(4), vec(4, 5)], wrt=(0, 1), tag="given"),
    _c(is_not_none, lambda: [vec(4), None], tag="None"),
    _c(is_not_none, lambda: [vec(4), 0.7], wrt=(0, 1), tag="given"),
    _c(nested_branches, lambda: [np.array([0.5, 0.3, -0.2])], tag="pp"),
    _c(nested_branches, lambda: [np.array([-0.5, 0.3, 0.8])], tag="np"),
    _c(piecewise_loop, lambda: [np.array([1.2, 0.1, -0.3, -1.4, 0.7, -0.8])], ref=piecewise_ref),
    # range
    _c(range_shape_bounds, lambda: [vec(6)], ref=range_shape_bounds_ref),
    _c(range_zero_trip, lambda: [vec(4)], ref=range_zero_trip_ref),
    _c(range_negative_step, lambda: [vec(7)]),
    _c(range_param_trips, lambda: [vec(3), 4], tag="4"),
    _c(range_param_trips, lambda: [vec(3), 0], tag="0"),
    _c(horner, lambda: [vec(5, 1), vec(3, 2)], wrt=(0, 1), ref=horner_ref),
    _c(loop_matmul, lambda: [mat(2, 3, 1), mat(3, 2, 2)], wrt=(0, 1), ref=loop_matmul_ref),
    _c(loop_index_modulo, lambda: [vec(4)], ref=loop_index_modulo_ref),
    _c(loop_var_after_loop, lambda: [vec(4)]),
    _c(cumprod_loop, lambda: [vec(5, 4, 0.5, 1.5)], ref=cumprod_ref),
    # iteration over arrays, enumerate, zip, lists, tuples
    _c(loop_rows, lambda: [mat(4, 3)], ref=loop_rows_ref),
    _c(loop_columns, lambda: [mat(3, 4), 0.8], wrt=(0, 1)),
    _c(loop_enumerate, lambda: [vec(5)], ref=loop_enumerate_ref),
    _c(loop_enumerate_start, lambda: [vec(4)]),
    _c(loop_zip, lambda: [vec(5, 1), vec(5, 2)], wrt=(0, 1), ref=loop_zip_ref),
    _c(loop_zip_three, lambda: [vec(4, 1), vec(4, 2), vec(4, 3)], wrt=(0, 1, 2)),
    _c(loop_zip_rows, lambda: [mat(3, 2, 1), mat(3, 2, 2)], wrt=(0, 1)),
    _c(loop_static_tuple, lambda: [vec(3)]),
    _c(list_stack, lambda: [vec(4)], ref=list_stack_ref),
    _c(list_array, lambda: [vec(5)], ref=list_array_ref),
    _c(list_builtin_sum, lambda: [vec(5)], ref=list_builtin_sum_ref),
    _c(list_iterate, lambda: [vec(3)]),
    _c(list_arg, lambda: [[vec(3, 1), vec(2, 2), vec(4, 3)]]),
    _c(tuple_arg, lambda: [(vec(3, 1), vec(3, 2))]),
    _c(tuple_output, lambda: [np.array([0.5, -1.0, 2.0, -0.3])], ref=tuple_output_ref),
    _c(fibonacci_swap, lambda: [vec(3, 1), vec(3, 2)], wrt=(0, 1), ref=fibonacci_swap_ref),
    # while, break, continue, returns
    _c(while_data_exit, lambda: [1.3]),
    _c(while_counter, lambda: [vec(3), 5], ref=while_counter_ref),
    _c(while_active_cond, lambda: [0.9]),
    _c(while_true_break, lambda: [vec(3, 0, 0.0, 1.0)]),
    _c(newton_sqrt, lambda: [2.7], ref=newton_sqrt_ref),
    _c(fixed_point_two_conditions, lambda: [vec(3)]),
    _c(break_loop, lambda: [np.array([0.8, -0.5, 1.1, 0.9, 0.3])]),
    _c(break_first, lambda: [vec(4)], ref=break_first_ref),
    _c(continue_loop, lambda: [np.array([0.8, -0.5, 1.1, -0.9, 0.3])], ref=continue_ref),
    _c(break_and_continue, lambda: [np.array([0.3, -0.8, 1.1, 2.0, 0.5])]),
    _c(inner_break, lambda: [np.array([[0.2, 1.5, 0.3], [0.4, -0.6, 0.9], [1.7, 0.1, 0.2]])]),
    _c(early_return, lambda: [np.array([0.3, -0.4, 1.5, 0.2])], tag="taken"),
    _c(early_return, lambda: [np.array([0.3, -0.4, 0.5, 0.2])], tag="not_taken"),
    _c(early_return_nested, lambda: [np.array([[0.9, 0.8], [1.1, 0.2], [0.5, 0.6]])],
       tag="taken"),
    _c(early_return_nested, lambda: [np.array([[0.3, 0.2], [0.1, 0.2]])], tag="not_taken"),
    _c(multiple_returns, lambda: [vec(3, 1, 0.5, 1.0)], tag="first"),
    _c(multiple_returns, lambda: [vec(3, 1, -0.3, 0.3)], tag="second"),
    _c(multiple_returns, lambda: [vec(3, 1, -1.0, -0.5)], tag="last"),
    _c(return_in_both_branches, lambda: [vec(3), True], tag="True"),
    _c(return_in_both_branches, lambda: [vec(3), False], tag="False"),
    _c(trips_from_values, lambda: [np.array([0.5, 1.2, -0.3, 0.8])]),
    _c(trips_from_int_of_active, lambda: [np.array([0.9, 0.4, -0.3])]),
    # in-place updates and buffers
    _c(inplace_square, lambda: [vec(5)], ref=inplace_square_ref),
    _c(inplace_column_accumulate, lambda: [mat(3, 4), vec(4, 1)], wrt=(0, 1),
       ref=inplace_column_accumulate_ref),
    _c(inplace_mask_scale, lambda: [np.array([0.5, -1.2, 2.0, -0.3, 0.9])],
       ref=inplace_mask_scale_ref),
    _c(inplace_diagonal, lambda: [mat(3, 3), vec(3, 1)], wrt=(0, 1), ref=inplace_diagonal_ref),
    _c(inplace_overwrite_twice, lambda: [vec(3)], ref=inplace_overwrite_twice_ref),
    _c(inplace_loop_overwrite, lambda: [vec(5)]),
    _c(empty_buffer, lambda: [vec(5)], ref=empty_buffer_ref),
    _c(ones_buffer, lambda: [vec(4)], ref=ones_buffer_ref),
    _c(copy_buffer, lambda: [vec(5)]),
    _c(slice_self_update, lambda: [vec(6)]),
    _c(slice_2d_scale, lambda: [mat(4, 3), vec(3, 1)], wrt=(0, 1)),
    _c(fancy_repeated_add, lambda: [vec(4)], ref=fancy_repeated_add_ref),
    _c(conv1d_loops, lambda: [vec(7, 1), vec(3, 2)], wrt=(0, 1), ref=conv1d_ref),
    _c(dp_prefix, lambda: [vec(5)], ref=dp_prefix_ref),
    _c(soft_dtw, lambda: [mat(3, 4, 0) ** 2, 0.5], wrt=(0, 1)),
    _c(euler_heat, lambda: [vec(6), 0.8], wrt=(0, 1), ref=euler_heat_ref),
    _c(euler_state_buffer, lambda: [vec(3), 0.7], wrt=(0, 1)),
    _c(shrinking_loop, lambda: [vec(6)]),
    _c(slice_rebind_in_branch, lambda: [vec(5)], ref=slice_rebind_in_branch_ref),
    _c(inplace_on_argument, lambda: [vec(4)]),
    _c(early_return_mean_after_write, lambda: [mat(3, 2, 0, 1.0) + 1.0], tag="taken"),
    _c(early_return_mean_after_write, lambda: [mat(3, 2, 0, 1.0) - 1.0], tag="not_taken"),
    _c(copy_then_loop_writes, lambda: [vec(3)]),
    _c(rows_read_then_overwritten, lambda: [mat(3, 2)]),
    _c(view_write_through, lambda: [vec(4)], ref=view_write_through_ref),
    _c(loop_reversed_range, lambda: [vec(4)]),
    _c(loop_len_range, lambda: [vec(4)], ref=loop_len_range_ref),
    _c(loop_list_literal, lambda: [vec(3, 1), vec(3, 2)], wrt=(0, 1), ref=loop_list_literal_ref),
    _c(while_break_continue, lambda: [np.array([0.7, -0.2, 0.9, 0.6, 1.1, 0.3])]),
    _c(while_early_return, lambda: [vec(3, 1, 0.2, 0.6)], tag="taken"),
    _c(while_early_return, lambda: [vec(3, 1, -0.6, -0.2)], tag="not_taken"),
    _c(forward_substitution, lambda: [np.tril(mat(4, 4, 1)) + 3.0 * np.eye(4), vec(4, 2)],
       wrt=(0, 1), ref=forward_substitution_ref),
    _c(gauss_eliminate, lambda: [mat(4, 4, 3) + 4.0 * np.eye(4), vec(4, 4)], wrt=(0, 1),
       ref=gauss_eliminate_ref),
    _c(cholesky_loops, lambda: [mat(4, 4, 5) @ mat(4, 4, 5).T + 4.0 * np.eye(4)],
       ref=cholesky_ref),
    _c(conditionally_defined, lambda: [vec(4)], ref=conditionally_defined_ref),
    _c(conditional_append, lambda: [np.array([0.5, -0.4, 1.2, -1.0, 0.3])]),
    _c(argmax_write, lambda: [np.array([0.5, -0.4, 1.2, -1.0])]),
    _c(rebind_parameter, lambda: [vec(3), 4]),
    _c(range_param_step, lambda: [vec(7), 3]),
    _c(nested_while_in_for, lambda: [vec(3, 1, 0.2, 1.0)]),
    _c(clip_loop, lambda: [np.array([0.3, 1.4, -0.6, 0.9]), 0.8], wrt=(0, 1), ref=clip_loop_ref),
    _c(row_column_updates, lambda: [mat(3, 3), vec(3, 1)], wrt=(0, 1),
       ref=row_column_updates_ref),
    _c(empty_input_zero_trip, lambda: [np.zeros(0), vec(2)], wrt=(0, 1)),
    _c(enumerate_rows_write, lambda: [mat(4, 3), vec(3, 1)], wrt=(0, 1),
       ref=enumerate_rows_write_ref),
    _c(while_any, lambda: [vec(3)]),
    _c(reset_in_loop, lambda: [vec(5)], ref=reset_in_loop_ref),
    _c(list_last_state, lambda: [mat(3, 3, 1, 0.5), mat(4, 3, 2)], wrt=(0, 1)),
    _c(list_item_assign, lambda: [vec(5)]),
    _c(chained_compare, lambda: [np.array([0.3, -0.7, 0.1, 0.9, -0.2])], ref=chained_compare_ref),
    _c(builtin_min_max_abs_loop, lambda: [np.array([0.3, -0.7, 0.1, 0.9, -0.2])],
       ref=builtin_min_max_abs_ref),
    _c(counter_weights, lambda: [np.array([0.3, -0.7, 0.1, 0.9, -0.2])]),
    _c(growing_slices, lambda: [vec(5)], ref=growing_slices_ref),
    _c(conditional_index_expr, lambda: [vec(3)]),
    _c(float_truthiness, lambda: [np.array([0.3, 0.0, -0.5])]),
    _c(while_zero_trip, lambda: [vec(3)], ref=while_zero_trip_ref),
    _c(strided_slice_update, lambda: [vec(6)], ref=strided_slice_update_ref),
    _c(gauss_pivot, lambda: [mat(4, 4, 7), vec(4, 8)], wrt=(0, 1), ref=gauss_eliminate_ref),
    _c(bubble_sort, lambda: [np.array([0.3, -1.2, 2.0, 0.7, -0.1])], ref=bubble_sort_ref),
    _c(prefix_recurrence, lambda: [vec(5)]),
    _c(euler_trajectory, lambda: [vec(3, 1, 0.5, 1.0), 0.7], wrt=(0, 1)),
    _c(early_return_tuple, lambda: [vec(3, 1, 0.5, 1.0)], tag="taken"),
    _c(early_return_tuple, lambda: [vec(3, 1, -1.0, -0.5)], tag="not_taken"),
    _c(lstm_like, lambda: [mat(3, 3, 1, 0.5), mat(3, 2, 2, 0.5), mat(4, 2, 3)], wrt=(0, 1, 2)),
    _c(helper_with_loop_in_loop, lambda: [vec(3, 1, -0.5, 0.5)]),
    _c(helper_keyword_only, lambda: [vec(3)]),
    _c(helper_mutates_argument, lambda: [vec(4)], ref=helper_mutates_argument_ref),
    _c(helper_mutates_alias, lambda: [vec(4)], ref=helper_mutates_argument_ref),
    _c(helper_mutates_and_rebinds, lambda: [vec(4)], ref=helper_mutates_and_rebinds_ref),
    # scalar Python loops
    _c(ode_oscillator, lambda: [2.0, 0.3], wrt=(0, 1)),
    _c(thermal_simulation, lambda: [0.01, 5e5, vec(24, 1, 0.0, 300.0),
                                    vec(24, 2, 0.0, 15.0)], wrt=(0, 1, 2, 3)),
    _c(logistic_map_scalar, lambda: [2.7]),
    # helpers
    _c(helper_in_loop, lambda: [vec(3, 1, 0.0, 1.0), 1.3, vec(3, 2)], wrt=(0, 1, 2)),
    _c(helper_early_return_in_loop, lambda: [vec(3, 1, 0.0, 1.0), 1.3, vec(3, 2)],
       wrt=(0, 1, 2)),
    _c(helper_in_branch, lambda: [vec(3, 1, 0.1, 1.0)], tag="pos"),
    _c(helper_in_branch, lambda: [vec(3, 1, -1.0, -0.1)], tag="neg"),
    _c(helper_with_early_return, lambda: [np.array([0.3, 0.6, 0.4])]),
    # pathological and realistic kernels
    _c(nested_shared_tape, lambda: [vec(3)]),
    _c(triangular_nested, lambda: [vec(5)], ref=triangular_ref),
    _c(conv2d_loops, lambda: [mat(5, 4, 1), mat(2, 3, 2)], wrt=(0, 1), ref=conv2d_ref),
    _c(maxpool_loops, lambda: [mat(4, 6)], ref=maxpool_ref),
    _c(tanh_rnn, lambda: [mat(3, 3, 1, 0.5), mat(3, 2, 2, 0.5), vec(3, 3), mat(4, 2, 4)],
       wrt=(0, 1, 2, 3)),
    _c(softmax_rows_loop, lambda: [mat(3, 4)], ref=softmax_rows_ref),
    _c(power_iteration, lambda: [mat(3, 3, 5) + 3.0 * np.eye(3), vec(3, 6)], wrt=(0, 1)),
    _c(builtin_max3, lambda: [vec(5)], ref=builtin_max3_ref),
    _c(aug_ops_scalar, lambda: [0.6]),
    _c(where_in_loop, lambda: [vec(5)]),
]


def cases_by_id() -> dict:
    return {case.id: case for case in CASES}

"""Optimizers over parameters of any structure, and second-order minimization.

First-order optimizers are functional, in the style of optax::

    opt = srcad.optim.adam(lr=1e-3)
    state = opt.init(params)
    params, state = opt.update(params, grads, state)

``params`` (and ``grads``, of the same structure) may be an array, or dicts, lists, tuples,
namedtuples and dataclasses of arrays (``srcad.tree``). ``update`` never writes into the
arrays it is given. ``lr`` is a number or a schedule (a function of the step count, from 0:
``step_decay``, ``exponential_decay``, ``cosine_decay``). ``weight_decay=w`` adds ``w * p``
to each gradient (L2 regularization); ``adamw`` decays the parameters directly instead.

The update rules, per element, for a gradient ``g`` at step ``t`` (from 1):

=========  ==================================================================================
sgd        ``p -= lr g``
momentum   ``v = mu v - lr g;  p += v``
nesterov   ``v = mu v - lr g;  p += mu v - lr g`` (the look-ahead form)
adagrad    ``s += g^2;  p -= lr g / (sqrt(s) + eps)``
adadelta   ``s = rho s + (1 - rho) g^2;  dp = -sqrt(u + eps) / sqrt(s + eps) g;``
           ``u = rho u + (1 - rho) dp^2;  p += lr dp``
rmsprop    ``s = rho s + (1 - rho) g^2;  p -= lr g / (sqrt(s) + eps)``
adam       ``m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;``
           ``p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)``
adamax     ``m = b1 m + (1 - b1) g;  u = max(b2 u, |g|);  p -= lr / (1 - b1^t) m / (u + eps)``
rprop      per-element steps ``s``: where ``g g_prev > 0``, ``s = min(s eta_plus, s_max)``; where
           ``< 0``, ``s = max(s eta_minus, s_min)`` and ``g = 0`` (iRprop-); ``p -= sign(g) s``
=========  ==================================================================================

Second order: ``newton`` (``srcad.hessian``), ``newton_cg`` (``srcad.hvp``: no Hessian is
formed), ``gradient_descent`` with a backtracking estimate of the gradient's Lipschitz
constant ``L`` (steps ``1 / L``), and ``minimize(f, x0, method=...)``, which also hands
``srcad.value_and_grad`` (and ``hvp`` as ``hessp``) to ``scipy.optimize.minimize`` for SciPy's
methods when SciPy is installed. ``fit`` is a minibatch training loop.
"""
from __future__ import annotations

import math
import sys
import time
from typing import Any, Callable, NamedTuple

import numpy as np

from .tree import flatten, leaves, tree_map

__all__ = ["Optimizer", "OptState", "sgd", "momentum", "nesterov", "adagrad", "adadelta",
           "rmsprop", "adam", "adamw", "adamax", "rprop", "step_decay", "exponential_decay",
           "cosine_decay", "newton", "newton_cg", "gradient_descent", "minimize", "MinimizeResult",
           "fit", "FitResult"]


class OptState(NamedTuple):
    step: int                 # updates done so far
    slots: tuple              # one tree per slot of the optimizer (moments, step sizes, ...)


class Optimizer(NamedTuple):
    """``init(params) -> state`` and ``update(params, grads, state) -> (params, state)``."""

    init: Callable
    update: Callable
    name: str = "optimizer"


# -- schedules: step count (from 0) -> learning rate ----------------------------------------------

def step_decay(lr: float, step_size: int, gamma: float = 0.1):
    """``lr * gamma ** (step // step_size)``."""
    return lambda step: lr * gamma ** (step // step_size)


def exponential_decay(lr: float, gamma: float):
    """``lr * gamma ** step``."""
    return lambda step: lr * gamma ** step


def cosine_decay(lr: float, total_steps: int, min_lr: float = 0.0):
    """From ``lr`` down to ``min_lr`` along half a cosine over ``total_steps``, then ``min_lr``."""
    def schedule(step):
        t = min(step, total_steps) / total_steps
        return min_lr + 0.5 * (lr - min_lr) * (1.0 + math.cos(math.pi * t))
    return schedule


# -- the first-order optimizers -------------------------------------------------------------------

def _optimizer(name: str, slot_inits: tuple, rule: Callable, lr, weight_decay: float = 0.0,
               decoupled_decay: float = 0.0) -> Optimizer:
    """An optimizer from a per-leaf ``rule(p, g, slots, lr, t) -> (new_p, new_slots)``;
    ``slot_inits`` make each slot's initial value from a parameter leaf."""
    def init(params):
        return OptState(0, tuple(tree_map(make, params) for make in slot_inits))

    def update(params, grads, state):
        t = state.step + 1
        rate = float(lr(state.step)) if callable(lr) else lr
        ps, rebuild = flatten(params)
        gs = leaves(grads)
        if len(gs) != len(ps):
            raise ValueError(f"{name}: the gradients have {len(gs)} leaves, the parameters "
                             f"{len(ps)}")
        slots = [leaves(s) for s in state.slots]
        new_ps, new_slots = [], [[] for _ in slots]
        for i, (p, g) in enumerate(zip(ps, gs)):
            if weight_decay:
                g = g + weight_decay * p
            if decoupled_decay:
                p = p - (rate * decoupled_decay) * p
            p, updated = rule(p, g, [s[i] for s in slots], rate, t)
            new_ps.append(p)
            for column, value in zip(new_slots, updated):
                column.append(value)
        rebuilt = tuple(flatten(s)[1](column) for s, column in zip(state.slots, new_slots))
        return rebuild(new_ps), OptState(t, rebuilt)

    return Optimizer(init, update, name)


def _zeros(p):
    return np.zeros_like(p) if isinstance(p, np.ndarray) else 0.0 * p


def sgd(lr=0.01, weight_decay=0.0) -> Optimizer:
    return _optimizer("sgd", (), lambda p, g, s, lr, t: (p - lr * g, ()), lr, weight_decay)


def momentum(lr=0.01, mu=0.9, weight_decay=0.0) -> Optimizer:
    def rule(p, g, slots, lr, t):
        v = mu * slots[0] - lr * g
        return p + v, (v,)
    return _optimizer("momentum", (_zeros,), rule, lr, weight_decay)


def nesterov(lr=0.01, mu=0.9, weight_decay=0.0) -> Optimizer:
    def rule(p, g, slots, lr, t):
        v = mu * slots[0] - lr * g
        return p + mu * v - lr * g, (v,)
    return _optimizer("nesterov", (_zeros,), rule, lr, weight_decay)


def adagrad(lr=0.01, eps=1e-10, weight_decay=0.0) -> Optimizer:
    def rule(p, g, slots, lr, t):
        s = slots[0] + g * g
        return p - lr * g / (np.sqrt(s) + eps), (s,)
    return _optimizer("adagrad", (_zeros,), rule, lr, weight_decay)


def adadelta(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0) -> Optimizer:
    def rule(p, g, slots, lr, t):
        s = rho * slots[0] + (1.0 - rho) * g * g
        dp = -np.sqrt(slots[1] + eps) / np.sqrt(s + eps) * g
        u = rho * slots[1] + (1.0 - rho) * dp * dp
        return p + lr * dp, (s, u)
    return _optimizer("adadelta", (_zeros, _zeros), rule, lr, weight_decay)


def rmsprop(lr=0.01, rho=0.99, eps=1e-8, weight_decay=0.0) -> Optimizer:
    def rule(p, g, slots, lr, t):
        s = rho * slots[0] + (1.0 - rho) * g * g
        return p - lr * g / (np.sqrt(s) + eps), (s,)
    return _optimizer("rmsprop", (_zeros,), rule, lr, weight_decay)


def _adam_rule(b1, b2, eps):
    def rule(p, g, slots, lr, t):
        m = b1 * slots[0] + (1.0 - b1) * g
        v = b2 * slots[1] + (1.0 - b2) * g * g
        step = (lr / (1.0 - b1 ** t)) * m / (np.sqrt(v * (1.0 / (1.0 - b2 ** t))) + eps)
        return p - step, (m, v)
    return rule


def adam(lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0) -> Optimizer:
    return _optimizer("adam", (_zeros, _zeros), _adam_rule(b1, b2, eps), lr, weight_decay)


def adamw(lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.01) -> Optimizer:
    """Adam with decoupled weight decay: ``p -= lr * weight_decay * p`` before the Adam step."""
    return _optimizer("adamw", (_zeros, _zeros), _adam_rule(b1, b2, eps), lr,
                      decoupled_decay=weight_decay)


def adamax(lr=2e-3, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0) -> Optimizer:
    def rule(p, g, slots, lr, t):
        m = b1 * slots[0] + (1.0 - b1) * g
        u = np.maximum(b2 * slots[1], np.abs(g))
        return p - (lr / (1.0 - b1 ** t)) * m / (u + eps), (m, u)
    return _optimizer("adamax", (_zeros, _zeros), rule, lr, weight_decay)


def rprop(lr=0.01, eta_minus=0.5, eta_plus=1.2, step_min=1e-6, step_max=50.0) -> Optimizer:
    """Resilient backpropagation (iRprop-): ``lr`` is the initial step size of every element."""
    def rule(p, g, slots, lr, t):
        previous, steps = slots
        agree = g * previous
        steps = np.where(agree > 0, np.minimum(steps * eta_plus, step_max),
                         np.where(agree < 0, np.maximum(steps * eta_minus, step_min), steps))
        g = np.where(agree < 0, 0.0 * g, g)
        return p - np.sign(g) * steps, (g, steps)

    return _optimizer("rprop", (_zeros, lambda p: np.full_like(p, lr, dtype=np.result_type(p))),
                      rule, lr)


# -- second order ---------------------------------------------------------------------------------

class MinimizeResult(NamedTuple):
    x: Any
    fun: float
    nit: int
    success: bool
    message: str = ""


def _backtrack(f, args, x, fx, g, direction, shrink=0.5, c=1e-4, max_halvings=60):
    """Armijo backtracking along ``direction`` from step 1: ``(x_new, f_new)``."""
    slope = float(np.vdot(g, direction))
    step = 1.0
    for _ in range(max_halvings):
        x_new = x + step * direction
        f_new = f(x_new, *args)
        if f_new <= fx + c * step * slope:
            return x_new, f_new
        step *= shrink
    return x, fx


def _descent(f, args, x0, maxiter, gtol, direction_of):
    """The Newton-type loop: a direction from ``direction_of(x, g)``, a backtracking line search
    (with the gradient as the fallback where the direction does not descend)."""
    import srcad
    value_and_grad = srcad.value_and_grad(f)
    x = np.array(x0, dtype=np.result_type(x0, np.float32))
    for it in range(maxiter):
        fx, g = value_and_grad(x, *args)
        if np.linalg.norm(g) <= gtol:
            return MinimizeResult(x, float(fx), it, True, "gradient norm below gtol")
        p = direction_of(x, g)
        if not np.all(np.isfinite(p)) or np.vdot(g, p) >= 0:
            p = -g
        x, _ = _backtrack(f, args, x, fx, g, p)
    fx, g = value_and_grad(x, *args)
    return MinimizeResult(x, float(fx), maxiter, bool(np.linalg.norm(g) <= gtol),
                          "maximum number of iterations")


def newton(f, x0, args=(), maxiter=50, gtol=1e-8) -> MinimizeResult:
    """Newton's method with ``srcad.hessian`` (solving ``H p = -g``), with a backtracking line
    search; ``x0`` is an array."""
    import srcad
    hessian = srcad.hessian(f)

    def direction(x, g):
        H = hessian(x, *args).reshape(g.size, g.size)
        try:
            return np.linalg.solve(H, -g.reshape(-1)).reshape(g.shape)
        except np.linalg.LinAlgError:
            return -g
    return _descent(f, args, x0, maxiter, gtol, direction)


def _truncated_cg(hvp, g, tol, maxiter):
    """Approximately solve ``H p = -g`` by conjugate gradients, stopping at negative curvature."""
    p = np.zeros_like(g)
    r = -g
    d = r
    rr = float(np.vdot(r, r))
    for _ in range(maxiter):
        Hd = hvp(d)
        curvature = float(np.vdot(d, Hd))
        if curvature <= 0:
            return p if np.any(p) else -g
        alpha = rr / curvature
        p = p + alpha * d
        r = r - alpha * Hd
        rr_new = float(np.vdot(r, r))
        if math.sqrt(rr_new) <= tol:
            break
        d = r + (rr_new / rr) * d
        rr = rr_new
    return p


def newton_cg(f, x0, args=(), maxiter=100, gtol=1e-8, cg_maxiter=None) -> MinimizeResult:
    """Newton-CG: the Newton direction by conjugate gradients on Hessian-vector products
    (``srcad.hvp``), without forming the Hessian; a backtracking line search."""
    import srcad
    hvp = srcad.hvp(f)

    def direction(x, g):
        norm = float(np.linalg.norm(g))
        return _truncated_cg(lambda v: hvp(x, *args, v), g, min(0.01, math.sqrt(norm)) * norm,
                             cg_maxiter or 2 * g.size + 10)
    return _descent(f, args, x0, maxiter, gtol, direction)


def gradient_descent(f, x0, args=(), maxiter=1000, gtol=1e-6, lipschitz=1.0) -> MinimizeResult:
    """Gradient descent with steps ``1 / L``, ``L`` the Lipschitz constant of the gradient
    estimated by backtracking: doubled until the step decreases ``f`` by ``|g|^2 / (2 L)`` (a
    bound on the decrease that holds once ``L`` bounds the curvature) and the gradient changes
    by at most ``L`` times the step (the secant estimate, which rounding in ``f`` cannot fool
    near the minimum); halved after each accepted step, so it follows the local curvature."""
    import srcad
    value_and_grad = srcad.value_and_grad(f)
    x = np.array(x0, dtype=np.result_type(x0, np.float32))
    L = float(lipschitz)
    fx, g = value_and_grad(x, *args)
    for it in range(maxiter):
        gg = float(np.vdot(g, g))
        if math.sqrt(gg) <= gtol:
            return MinimizeResult(x, float(fx), it, True, "gradient norm below gtol")
        slack = 16.0 * np.finfo(x.dtype).eps * abs(float(fx))      # rounding in f
        while True:
            x_new = x - g / L
            f_new, g_new = value_and_grad(x_new, *args)
            secant = float(np.linalg.norm(g_new - g)) * L / math.sqrt(gg)
            if (f_new <= fx - gg / (2.0 * L) + slack and secant <= L) or L > 1e300:
                break
            L *= 2.0
        x, fx, g, L = x_new, f_new, g_new, L / 2.0
    return MinimizeResult(x, float(fx), maxiter, bool(np.linalg.norm(g) <= gtol),
                          "maximum number of iterations")


_OWN_METHODS = {"newton": newton, "newton-cg-srcad": newton_cg, "gd": gradient_descent,
                "gradient-descent": gradient_descent}
_HESSP_METHODS = ("newton-cg", "trust-ncg", "trust-krylov", "trust-constr")


def minimize(f, x0, args=(), method="newton", **options) -> MinimizeResult:
    """Minimize ``f(x, *args)`` from the array ``x0``. ``method``: ``'newton'``,
    ``'newton-cg-srcad'`` (srcad's own Newton-CG), ``'gd'``, or any method of
    ``scipy.optimize.minimize`` (``'L-BFGS-B'``, ``'BFGS'``, ``'trust-ncg'``, ``'newton-cg'``,
    ...), which gets ``srcad.value_and_grad(f)`` as ``jac=True`` and, for the methods that take
    one, ``srcad.hvp(f)`` as ``hessp``; extra ``options`` go to the method."""
    if method.lower() in _OWN_METHODS:
        return _OWN_METHODS[method.lower()](f, x0, args=args, **options)
    try:
        import scipy.optimize  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:            # pragma: no cover - exercised without SciPy
        raise ImportError(f"method={method!r} needs SciPy (pip install scipy); srcad's own "
                          f"methods are {sorted(_OWN_METHODS)}") from None
    import srcad
    x0 = np.asarray(x0, dtype=np.float64)
    shape = x0.shape
    value_and_grad = srcad.value_and_grad(f)

    def fun(x, *a):
        value, g = value_and_grad(x.reshape(shape), *a)
        return float(value), np.asarray(g, dtype=np.float64).reshape(-1)
    extra = {}
    if method.lower() in _HESSP_METHODS:
        hvp = srcad.hvp(f)
        extra["hessp"] = lambda x, v, *a: np.asarray(
            hvp(x.reshape(shape), *a, v.reshape(shape))).reshape(-1)
    res = scipy.optimize.minimize(fun, x0.reshape(-1), args=tuple(args), jac=True, method=method,
                                  **extra, **options)
    return MinimizeResult(res.x.reshape(shape), float(res.fun), int(getattr(res, "nit", 0)),
                          bool(res.success), str(res.message))


# -- the training loop ----------------------------------------------------------------------------

class FitResult(NamedTuple):
    params: Any
    state: OptState
    losses: list               # the loss of every minibatch, in order
    epoch_losses: list         # the mean minibatch loss of every epoch


def _progress(total, enabled):
    """A tqdm bar if tqdm is installed, else None (one line per epoch is written instead)."""
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:
        return None
    return tqdm(total=total, unit="step", leave=False)


def fit(loss, params, data, optimizer: Optimizer, epochs: int = 1, batch_size: int | None = None,
        rng=None, grad_fn=None, progress: bool = True, callback=None) -> FitResult:
    """Train ``params`` on ``data`` (a tuple of arrays sharing their first axis, shuffled each
    epoch with ``rng``, a seed or generator) by minibatches of ``batch_size`` (default: all).

    ``loss(params, *batch)`` returns a scalar; its gradient is ``grad_fn`` (default
    ``srcad.value_and_grad(loss)``, which must return ``(value, grads)``). ``callback(epoch,
    params)`` runs after each epoch. Progress: a tqdm bar when tqdm is installed, otherwise
    one line per epoch on stderr (``progress=False``: silent)."""
    import srcad
    if grad_fn is None:
        grad_fn = srcad.value_and_grad(loss)
    data = tuple(data)
    count = len(data[0])
    batch_size = batch_size or count
    batches = -(-count // batch_size)
    generator = np.random.default_rng(rng)
    state = optimizer.init(params)
    losses, epoch_losses = [], []
    bar = _progress(epochs * batches, progress)
    start = time.perf_counter()
    for epoch in range(epochs):
        order = generator.permutation(count)
        epoch_total = 0.0
        for b in range(batches):
            take = order[b * batch_size:(b + 1) * batch_size]
            value, grads = grad_fn(params, *(a[take] for a in data))
            params, state = optimizer.update(params, grads, state)
            losses.append(float(value))
            epoch_total += float(value)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{float(value):.4f}")
        epoch_losses.append(epoch_total / batches)
        if progress and bar is None:
            print(f"epoch {epoch + 1}/{epochs}: loss {epoch_losses[-1]:.6g} "
                  f"({time.perf_counter() - start:.1f} s)", file=sys.stderr)
        if callback is not None:
            callback(epoch, params)
    if bar is not None:
        bar.close()
    return FitResult(params, state, losses, epoch_losses)

"""srcad: source-transformation automatic differentiation for NumPy.

srcad reads a NumPy function's source and writes its derivative as plain, readable Python::

    import srcad
    dloss = srcad.grad(loss)            # gradient with respect to the first argument
    print(srcad.show(loss))             # the generated code
"""
from .api import (DerivativeFunction, Mode, Wrt, autodiff, clear_cache, grad, hessian, hook,
                  hvp, jacfwd, jacobian, jacrev, jvp, show, stop_gradient, value_and_grad, vjp)
from .check import check_grad
from .export import export
from .errors import (ArgumentError, GradientCheckError, InternalError, NoRuleError, NotDifferentiableError,
                     ShapeMismatchError, SourceUnavailableError, SrcadError, SrcadSyntaxError,
                     TooDeepError)
from .registry import register_adjoint, register_tangent

__version__ = "0.1.0"

# imported on first use, so `import srcad` stays cheap
_SUBMODULES = ("nn", "optim", "tree", "conv")


def __getattr__(name):
    if name in _SUBMODULES:
        import importlib
        return importlib.import_module(f"srcad.{name}")
    raise AttributeError(f"module 'srcad' has no attribute {name!r}")


__all__ = [
    "grad", "value_and_grad", "autodiff", "jvp", "vjp", "jacobian", "jacfwd", "jacrev",
    "hessian", "hvp", "show",
    "check_grad", "export", "stop_gradient", "hook", "register_adjoint", "register_tangent",
    "clear_cache",
    "SrcadError", "SrcadSyntaxError", "NoRuleError", "SourceUnavailableError",
    "NotDifferentiableError", "ArgumentError", "ShapeMismatchError", "GradientCheckError", "InternalError",
    "TooDeepError",
    "DerivativeFunction", "Mode", "Wrt", "nn", "optim",
]

"""Symbolic Jacobians with SymPy: derived, proved against the hand-derived forms, compiled, guarded.

* :mod:`~jacobnet.symbolic.derive` — symbols, and SymPy's Jacobians of each layer's own SymPy forward;
* :mod:`~jacobnet.symbolic.closed_forms` — the hand-derived forms proved equal to them;
* :mod:`~jacobnet.symbolic.network` — a network's gradient derived twice (whole loss, chain product);
* :mod:`~jacobnet.symbolic.layerwise` — each layer's SymPy Jacobians compiled and composed as the chain (``method="symbolic"``);
* :mod:`~jacobnet.symbolic.compiled` — the symbolic gradient, either derivation, lambdified and cached;
* :mod:`~jacobnet.symbolic.curvature` — SymPy's Hessian of a tiny network's loss;
* :mod:`~jacobnet.symbolic.guard` — the size guard; :mod:`~jacobnet.symbolic.latex` — LaTeX.

Every name below is importable from here; SymPy loads when the first one is
used (``import jacobnet.symbolic`` alone does not load it, so the size guard
stays cheap for the command line). Settings and caches live in their modules
(``jacobnet.symbolic.guard.MAX_EXPRESSION_SIZE``, ``jacobnet.symbolic.compiled.CACHE_SIZE``,
``jacobnet.symbolic.layerwise.CACHE_SIZE``).
"""

from importlib import import_module

_NAMES = {  # name → the module of this package that defines it
    "derive": (
        "vector_symbols", "param_symbols", "input_size", "forward_expr", "loss_expr", "loss_input_name",
        "layer_jacobians", "loss_jacobian", "lambdify_safe",
    ),
    "closed_forms": ("closed_form_jacobians", "closed_form_loss_row", "compare_closed_forms", "proved_zero", "FormCheck"),
    "network": (
        "SymbolicGradient", "Agreement", "direct_gradient", "network_gradient", "gradients_agree", "network_input_size",
    ),
    "layerwise": ("LayerDerivation", "LossRow", "derive_layer", "compiled_layer", "compiled_loss_row", "layerwise_gradient"),
    "compiled": (
        "CompiledGradient", "compiled_gradient", "symbolic_gradient", "evaluate_layer_jacobians", "common_factors_out",
        "architecture_key", "clear_cache", "DERIVATIONS",
    ),
    "guard": (
        "SymbolicSizeError", "check_size", "estimate_size", "check_layer_size", "estimate_layerwise_size", "estimate_loss_row_size",
        "check_layer_derivation", "check_layerwise_size",
    ),
    "latex": ("jacobian_latex", "show_jacobians", "ShownJacobian", "plain_text"),
    "curvature": ("SymbolicHessian", "symbolic_hessian", "symbolic_hessian_at"),
}
_MODULE = {name: module for module, names in _NAMES.items() for name in names}
__all__ = [name for names in _NAMES.values() for name in names]


def __getattr__(name: str) -> object:
    """Each name of :data:`__all__` from its module, imported on first use."""
    if name not in _MODULE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_MODULE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

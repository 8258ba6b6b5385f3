"""Checks: a Jacobian against finite differences and the complex step, a gradient three ways, step sizes.

* :mod:`~jacobnet.check.jacobian` — :func:`check_jacobian` names every wrong entry; :func:`check_layer`
  checks a layer's two Jacobians;
* :mod:`~jacobnet.check.entries` — which entries are wrong, and by how much;
* :mod:`~jacobnet.check.report` — :func:`compare_gradients`: Jacobian product, SymPy and central differences;
* :mod:`~jacobnet.check.stepsize` — a finite difference's error against its step.

The references themselves (:func:`jacobian_fd`, :func:`jacobian_complex_step`,
:func:`fd_gradient`, :func:`rel_error`) live in :mod:`jacobnet.core.finite`, since
everything above the core uses them; they are importable from here.
"""

from jacobnet.check.entries import WrongEntries, WrongEntry, entry_errors, entry_tolerance
from jacobnet.check.jacobian import TOLERANCES, JacobianCheck, check_jacobian, check_layer
from jacobnet.check.report import GradientReport, compare_gradients
from jacobnet.check.stepsize import StepSweep, network_step_sweep, step_size_sweep
from jacobnet.core.finite import (
    COMPLEX_STEP,
    EPS,
    REL_STEP,
    STEPS,
    as_point,
    fd_gradient,
    jacobian_complex_step,
    jacobian_fd,
    rel_error,
)

__all__ = [
    "check_jacobian", "check_layer", "JacobianCheck", "TOLERANCES", "WrongEntry", "WrongEntries", "entry_errors", "entry_tolerance",
    "compare_gradients", "GradientReport", "StepSweep", "step_size_sweep", "network_step_sweep",
    "rel_error", "jacobian_fd", "jacobian_complex_step", "fd_gradient", "as_point", "EPS", "REL_STEP", "STEPS",
    "COMPLEX_STEP",
]

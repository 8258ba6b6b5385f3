"""Finite-difference step size: truncation error against round-off error.

A difference quotient has two errors that pull ``h`` in opposite directions:

* truncation, from the Taylor terms it drops: ``O(h²)`` for the central
  quotient ``(f(x+h) − f(x−h)) / 2h``, ``O(h)`` for the forward one;
* round-off, from subtracting two nearly equal floats: ``O(ε/h)`` with
  ``ε ≈ 2.2e-16`` (float64 machine epsilon).

Their sum is smallest near ``h ≈ ε^{1/3} ≈ 6e-6`` (central) and
``h ≈ ε^{1/2} ≈ 1.5e-8`` (forward): the rule :mod:`jacobnet.check` uses.
:func:`step_size_sweep` measures the error over a range of ``h``.

>>> sweep = step_size_sweep(np.exp, np.array([1.0]), np.array([[np.e]]))
>>> sweep.h.shape == sweep.error.shape, 1e-7 < sweep.best_h < 1e-4
(True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from jacobnet.core.cost import check_cost
from jacobnet.core.finite import STEPS, check_fd_cost, fd_gradient, jacobian_fd, rel_error

if TYPE_CHECKING:
    from jacobnet.net.network import Network

Array = np.ndarray
ORDERS = {"central": 2, "forward": 1}
"""The truncation order of each scheme of :func:`jacobnet.check.jacobian_fd` (its rule-of-thumb step: ``check.STEPS``)."""


@dataclass
class StepSweep:
    """Relative error of a finite-difference Jacobian at each step ``h``.

    ``h`` and ``error`` have shape ``(k,)``; ``order`` is the truncation order
    (2 central, 1 forward); ``rule_h`` the textbook step ``ε^{1/(order+1)}``.
    """

    scheme: str
    h: Array
    error: Array
    order: int
    rule_h: float

    @property
    def best_h(self) -> float:
        """The measured step with the smallest error."""
        return float(self.h[int(np.argmin(self.error))])

    @property
    def best_error(self) -> float:
        """The smallest measured error."""
        return float(np.min(self.error))

    def slopes(self, decades: float = 1.5) -> tuple[float, float]:
        """Log-log slopes of the error ``decades`` away from ``best_h``: (round-off side, truncation side).

        Theory: ``−1`` on the small-``h`` side, ``+order`` on the large-``h`` side.
        """
        logh, loge = np.log10(self.h), np.log10(np.maximum(self.error, 1e-300))
        centre = np.log10(self.best_h)
        small, large = logh < centre - decades, logh > centre + decades
        return _slope(logh[small], loge[small]), _slope(logh[large], loge[large])

    def guides(self, decades: float = 1.0) -> tuple[Array, Array]:
        """Fitted error models on ``h``: round-off ``D/h`` and truncation ``C·h^order`` — shapes ``(k,)``.

        ``D`` and ``C`` are least-squares fits in log space to the measured errors more than
        ``decades`` below, resp. above, ``best_h`` (NaN where a side has no points).
        """
        logh, loge = np.log10(self.h), np.log10(np.maximum(self.error, 1e-300))
        centre = np.log10(self.best_h)
        small, large = logh < centre - decades, logh > centre + decades
        log_d = np.mean(loge[small] + logh[small]) if small.any() else np.nan
        log_c = np.mean(loge[large] - self.order * logh[large]) if large.any() else np.nan
        return 10.0 ** (log_d - logh), 10.0 ** (log_c + self.order * logh)

    def __repr__(self) -> str:
        return (
            f"StepSweep({self.scheme}: {self.h.size} steps from {self.h[0]:.0e} to {self.h[-1]:.0e}; "
            f"best h = {self.best_h:.1e} (rule ε^(1/{self.order + 1}) = {self.rule_h:.1e}), "
            f"error {self.best_error:.1e})"
        )


def _slope(x: Array, y: Array) -> float:
    if x.size < 2:
        return float("nan")
    return float(np.polyfit(x, y, 1)[0])


def default_steps() -> Array:
    """Steps ``10^-14 … 10^-1``, four per decade — shape ``(53,)``."""
    return np.logspace(-14, -1, 53)


def _checked_steps(hs: Array | None, who: str) -> Array:
    """``hs`` as a float64 vector of relative steps in (0, 1) — :func:`default_steps` for ``None`` — or raise."""
    hs = default_steps() if hs is None else np.asarray(hs, dtype=np.float64)
    if hs.ndim != 1 or hs.size == 0 or not np.all((hs > 0) & (hs < 1)):
        raise ValueError(f"{who}: hs must be a non-empty 1-D array of relative steps in (0, 1), got {hs!r:.80}")
    return hs


def step_size_sweep(
    f: Callable[[Array], Array], x: Array, exact: Array, hs: Array | None = None, scheme: str = "central"
) -> StepSweep:
    """Error of the finite-difference Jacobian of ``f: ℝⁿ → ℝᵐ`` at ``x`` for each relative step in ``hs``.

    ``exact`` is the true Jacobian, shape ``(m, n)``; the error is
    :func:`jacobnet.check.rel_error` of the ``(m, n)`` estimate.

    >>> f = lambda v: np.array([np.sin(v[0]) * v[1]])            # ℝ² → ℝ¹
    >>> x = np.array([0.3, 2.0])
    >>> J = np.array([[np.cos(0.3) * 2.0, np.sin(0.3)]])          # (1, 2)
    >>> s = step_size_sweep(f, x, J, hs=np.array([1e-2, 1e-5]))
    >>> bool(s.error[0] > s.error[1])                             # smaller h, smaller truncation
    True
    """
    if scheme not in ORDERS:
        raise ValueError(f"unknown scheme {scheme!r}; choose one of {', '.join(ORDERS)}")
    x = np.asarray(x, dtype=np.float64)
    exact = np.asarray(exact, dtype=np.float64)
    hs = _checked_steps(hs, "step_size_sweep")
    errors = np.array([rel_error(jacobian_fd(f, x, h, scheme=scheme), exact) for h in hs])
    return StepSweep(scheme, hs, errors, ORDERS[scheme], STEPS[scheme])


def network_step_sweep(net: Network, x: Array, y: Array, hs: Array | None = None) -> StepSweep:
    """The central-difference sweep of ``dL/dθ`` of a network, against ``net.gradient(x, y)`` — ``(n_params,)``.

    The whole sweep (``len(hs)`` gradients by differences) is checked against the cost limit first.

    >>> from jacobnet import build_network
    >>> net = build_network([3, 2], activation="tanh", loss="softmax-ce")
    >>> s = network_step_sweep(net, np.ones(3), np.array([0.0, 1.0]), hs=np.array([1e-3, 1e-6]))
    >>> s.error.shape
    (2,)
    """
    hs = _checked_steps(hs, "network_step_sweep")
    x = net.check_input(x)
    each = check_fd_cost(net, x, math.inf)
    check_cost(hs.size * each, f"network_step_sweep: {hs.size} finite-difference gradients of {net.n_params} parameters",
               "sweep fewer steps, or a smaller network")
    exact = net.gradient(x, y)
    errors = np.array([rel_error(fd_gradient(net, x, y, rel_step=h, max_work=math.inf), exact) for h in hs])
    return StepSweep("central", hs, errors, ORDERS["central"], STEPS["central"])

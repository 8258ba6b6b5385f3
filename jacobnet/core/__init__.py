"""The numeric core: rules, operators, layers, losses, the stack, and the checks everything shares.

Nothing here knows how a chain is multiplied or a gradient derived; every
other subpackage builds on it. One concept per module:

* :mod:`~jacobnet.core.numerics`, :mod:`~jacobnet.core.validate`,
  :mod:`~jacobnet.core.memory`, :mod:`~jacobnet.core.labels`,
  :mod:`~jacobnet.core.table`, :mod:`~jacobnet.core.progress` — the small things;
* :mod:`~jacobnet.core.rules` — the one table of elementwise functions;
* :mod:`~jacobnet.core.operator`, :mod:`~jacobnet.core.operators` — Jacobians that know their structure;
* :mod:`~jacobnet.core.layer` (the protocol), :mod:`~jacobnet.core.layers`,
  :mod:`~jacobnet.core.losses` — every form of every layer and loss;
* :mod:`~jacobnet.core.compose`, :mod:`~jacobnet.core.blocks` — layers made of layers, and their Jacobians;
* :mod:`~jacobnet.core.stack` — layers and a loss, composed;
* :mod:`~jacobnet.core.finite` — finite differences and the relative error;
* :mod:`~jacobnet.core.sizes` — the size of a layer's symbolic expressions, estimated.
"""

from jacobnet.core.finite import fd_gradient, jacobian_complex_step, jacobian_fd, rel_error
from jacobnet.core.layer import Layer, Param
from jacobnet.core.layers import ACTIVATIONS, Dense, Elementwise, LeakyReLU, ReLU, Sigmoid, Softmax, Softplus, Tanh
from jacobnet.core.losses import LOSSES, MSE, CrossEntropy, Loss, SoftmaxCrossEntropy
from jacobnet.core.memory import JacobianMemoryError, memory_budget, set_budget
from jacobnet.core.operator import Operator
from jacobnet.core.operators import DiagMinusOuter, Diagonal, Empty, HStack, KronRows, Matrix
from jacobnet.core.rules import RULES, Rule, get_rule
from jacobnet.core.stack import Stack

__all__ = [
    "Layer", "Param", "Dense", "Elementwise", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "Softplus", "Softmax", "ACTIVATIONS",
    "Loss", "MSE", "CrossEntropy", "SoftmaxCrossEntropy", "LOSSES", "Stack",
    "Operator", "Matrix", "Diagonal", "DiagMinusOuter", "KronRows", "HStack", "Empty", "RULES", "Rule", "get_rule",
    "JacobianMemoryError", "memory_budget", "set_budget", "rel_error", "jacobian_fd", "jacobian_complex_step", "fd_gradient",
]

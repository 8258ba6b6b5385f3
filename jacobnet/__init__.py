"""jacobnet: backpropagation as a product of explicit Jacobian matrices.

>>> import numpy as np
>>> import jacobnet as jn
>>> net = jn.Network([jn.Dense(3, 4, seed=0), jn.Tanh(), jn.Dense(4, 2, seed=1)], jn.SoftmaxCrossEntropy())
>>> [f.shape for f in net.trace(np.ones(3), np.array([0.0, 1.0])).factors]
[(1, 2), (2, 10), (2, 4), (4, 4), (4, 16), (4, 3)]
"""

from .layers import Dense, LeakyReLU, Layer, ReLU, Sigmoid, Softmax, Softplus, Tanh
from .losses import MSE, CrossEntropy, Loss, SoftmaxCrossEntropy
from .network import Network
from .spec import build_network

__all__ = [
    "Layer", "Dense", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "Softplus", "Softmax",
    "Loss", "MSE", "CrossEntropy", "SoftmaxCrossEntropy",
    "Network", "build_network",
]
__version__ = "0.1.0"

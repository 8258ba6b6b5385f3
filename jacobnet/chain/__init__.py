"""Products of Jacobians: named factors, the backward pass, accumulation orders, costs, batches.

* :mod:`~jacobnet.chain.factor` — a named Jacobian, and one multiplication by it;
* :mod:`~jacobnet.chain.build` — a network's factors, and the chain of one product;
* :mod:`~jacobnet.chain.backward` — the one backward loop; :mod:`~jacobnet.chain.trace` — its record;
* :mod:`~jacobnet.chain.product` — one product in any order, its steps and its costs;
* :mod:`~jacobnet.chain.paths` — through blocks, a sum of path products;
* :mod:`~jacobnet.chain.orders`, :mod:`~jacobnet.chain.kernels` — parenthesisations, and what each multiplication costs;
* :mod:`~jacobnet.chain.batch` — batch Jacobians; :mod:`~jacobnet.chain.bridge` — VJPs as rows, JVPs as columns;
* :mod:`~jacobnet.chain.timing` — orders timed;
* :mod:`~jacobnet.chain.curvature` — second order: the output Jacobian, Gauss–Newton, Hessian-vector products, the Hessian;
* :mod:`~jacobnet.chain.spectra` — the singular values of the products across depth.
"""

from jacobnet.chain.backward import gradient, products
from jacobnet.chain.batch import batch_chain, block_diagonal, mean_of_products
from jacobnet.chain.bridge import jvp_as_columns, vjp_as_rows
from jacobnet.chain.build import build_chain
from jacobnet.chain.curvature import HessianParts, gauss_newton, hessian, hvp, ntk, output_jacobian, per_sample_gradients
from jacobnet.chain.factor import Factor, find_factor, multiply
from jacobnet.chain.paths import PathSum
from jacobnet.chain.product import Chain, Order, Step, order_table
from jacobnet.chain.trace import Product, Trace

__all__ = [
    "Chain", "PathSum", "Step", "Order", "Factor", "Product", "Trace", "gradient", "products", "build_chain",
    "multiply", "find_factor", "order_table", "batch_chain", "block_diagonal", "mean_of_products",
    "vjp_as_rows", "jvp_as_columns", "output_jacobian", "per_sample_gradients", "ntk", "gauss_newton", "hvp", "hessian",
    "HessianParts",
]

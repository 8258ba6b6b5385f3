"""The network: :class:`Network` (a stack with doors to every derivative) and the one spec parser."""

from jacobnet.net.network import GRADIENT_METHODS, Network
from jacobnet.net.spec import activation_class, build_network, demo_sample, parse_sizes

__all__ = ["Network", "GRADIENT_METHODS", "build_network", "parse_sizes", "activation_class", "demo_sample"]

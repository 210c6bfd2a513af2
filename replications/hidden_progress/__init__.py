"""Barak, Edelman, Goel, Kakade, Malach & Zhang, "Hidden Progress in Deep Learning: SGD Learns Parities Near
the Computational Limit" (NeurIPS 2022, arXiv 2207.08799): sparse parities, small networks, online SGD."""

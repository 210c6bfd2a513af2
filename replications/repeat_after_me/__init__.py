"""Jelassi, Brandfonbrener, Kakade, Malach (ICML 2024): Transformers are better than state space models at copying."""

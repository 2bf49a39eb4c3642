"""brainattr: which words make a language model's representations predict brain activity.

Reproduces and extends Proietti, Capobianco & Toneva (2025), "Fine-grained Analysis of
Brain-LLM Alignment through Input Attribution" (arXiv 2510.12355).
"""

__version__ = "0.1.0"

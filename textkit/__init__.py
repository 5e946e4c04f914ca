"""textkit: an NLP toolkit from raw text to trained models and audited embeddings.

Subpackages load on demand (``textkit.data``, ``textkit.text``, ``textkit.classical``,
``textkit.bias``), so importing textkit stays cheap.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]

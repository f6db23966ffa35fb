"""Helpers for *Convnets, an executable textbook*.

One module per concern: ``config`` (budget switch, seeds, folders), ``data``
(every external asset, verified), and the modules the chapters import for
convolution arithmetic, plots and interactive selectors.

Importing the package first silences TensorFlow's start-up chatter, which
its C++ runtime writes straight to file descriptor 2 (so Python's own
``sys.stderr`` redirection cannot catch it) and which would otherwise land
in every executed notebook.
"""

from lib.config import quiet_tensorflow_import

quiet_tensorflow_import()

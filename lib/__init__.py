"""Helpers for *Convnets, an executable textbook*.

One module per concern: ``config`` (budget switch, seeds, folders); the data
layer: ``data`` (what the chapters call), ``assets`` (the registry),
``asset_files`` and ``asset_folders`` (an asset's verified file, or folder of
files), ``data_sources`` (the Data page, status, online check, mirror),
``downloads`` (the one downloader) and ``cache_files`` (atomic writes, cache
keys, digests); the modules the chapters import for convolution arithmetic
(``convolution``), figures (``plots``, a package by subject), interactive
selectors (``selectors``), images and their pipelines (``images``,
``augmentation``), models and cached training (``models``, ``training``, with
``model_cache`` and ``progress``), showing a helper's code (``show``),
visualizing (``visualize``, ``gradcam``: numbers only) and exercises
(``exercises``); and the pretrained base: ``pretrained`` (the choice of
network, VGG16 and the base object the chapters use), ``lite0``
(EfficientNet-Lite0 and its weights), ``torch_weights`` (a safe reader of
PyTorch ``.pth`` files), ``imagenet`` (the ImageNet class names) and
``features`` (the feature cache).

Importing the package first silences TensorFlow's start-up chatter, which
its C++ runtime writes straight to file descriptor 2 (so Python's own
``sys.stderr`` redirection cannot catch it) and which would otherwise land
in every executed notebook.
"""

from lib.config import quiet_tensorflow_import

quiet_tensorflow_import()

"""Looking inside a convnet: its intermediate activations and the patterns its filters detect.

Two views, used by chapter 7:

- **Activations.** :func:`layer_activations` runs one image through a model
  and keeps what each convolution and pooling layer outputs;
  :func:`activation_grid` lays out every channel of one layer as a grid of
  small grey images, each standardised on its own (mean 0, standard
  deviation 1, then times 64 plus 128, clipped to 0..255) so that its
  pattern shows whatever its scale.
- **Filter patterns.** :func:`filter_patterns` starts from grey noisy images
  and runs gradient ascent *on the input* to make one filter respond as
  strongly as it can: the image it ends with is the pattern the filter looks
  for. All the filters of a grid are computed together, one image each in
  one batch, with the feature extractor built once and the ascent step
  compiled once (``tf.function``). :func:`filter_pattern_one_at_a_time` is
  the original way, a fresh model and a separate ascent per filter, kept
  for the benchmark ``tools/bench_visualize.py``.

Both work on Sequential and Functional models; layers are named, never
numbered. Their figures are drawn by :mod:`lib.plots.maps`.
"""

from __future__ import annotations

import inspect

import numpy as np

from lib.config import SEED

GRID_GAP = 1  # pixels between the tiles of a grid
ACTIVATION_KINDS = ("Conv2D", "MaxPooling2D", "AveragePooling2D", "DepthwiseConv2D")


def _inputs(model):
    """A model's input tensor (or list of them when it has several), as Keras expects it."""
    return model.inputs[0] if len(model.inputs) == 1 else model.inputs


# --- intermediate activations -----------------------------------------------------------


def conv_and_pool_layer_names(model) -> list[str]:
    """The names of the model's convolution and pooling layers, in order."""
    return [layer.name for layer in model.layers if type(layer).__name__ in ACTIVATION_KINDS]


def _layer_index(model, layer_name: str) -> int:
    names = [layer.name for layer in model.layers]
    if layer_name not in names:
        raise ValueError(
            f"{layer_name!r} is not a layer of {model.name!r}; its layers: {', '.join(names)}."
        )
    return names.index(layer_name)


def layer_activations(model, images, layer_names=None) -> dict[str, np.ndarray]:
    """What each named layer outputs for ``images`` (a batch, preprocessed as the model
    expects): ``{name: array of shape (batch, height, width, channels)}``.

    ``layer_names`` defaults to :func:`conv_and_pool_layer_names`. A Sequential
    model is run layer by layer (it has no graph to split until it has been
    called); a Functional one through a model with one output per layer.
    """
    import keras

    layer_names = list(layer_names or conv_and_pool_layer_names(model))
    for name in layer_names:
        _layer_index(model, name)
    batch = np.asarray(images, dtype=np.float32)
    if isinstance(model, keras.Sequential):
        wanted, result, x = set(layer_names), {}, batch
        last = max(_layer_index(model, name) for name in layer_names)
        for layer in model.layers[: last + 1]:
            x = layer(x, training=False)
            if layer.name in wanted:
                result[layer.name] = np.asarray(x)
        return {name: result[name] for name in layer_names}
    outputs = [model.get_layer(name).output for name in layer_names]
    values = keras.Model(_inputs(model), outputs)(batch, training=False)
    values = values if isinstance(values, list | tuple) else [values]
    return {name: np.asarray(value) for name, value in zip(layer_names, values, strict=True)}


def standardize_channel(channel) -> np.ndarray:
    """One feature map as a grey ``uint8`` image: mean 0 and standard deviation 1, then
    times 64 plus 128, clipped to 0..255. A constant map (a channel that stays silent for
    this image) comes out plain mid-grey, 128."""
    channel = np.asarray(channel, dtype=np.float64)
    spread = channel.std()
    centred = (channel - channel.mean()) / spread if spread > 0 else np.zeros_like(channel)
    return np.clip(centred * 64 + 128, 0, 255).astype(np.uint8)


def tile(images, per_row: int, gap: int = GRID_GAP, fill: int = 255) -> np.ndarray:
    """Images of one size (``(n, h, w)`` or ``(n, h, w, 3)``) side by side, ``per_row`` to a
    row, separated by ``gap`` pixels of ``fill``; a last row left incomplete stays blank."""
    images = np.asarray(images)
    count, height, width = images.shape[:3]
    rows = -(-count // per_row)
    shape = (rows * (height + gap) - gap, per_row * (width + gap) - gap, *images.shape[3:])
    grid = np.full(shape, fill, dtype=images.dtype)
    for i, image in enumerate(images):
        row, col = divmod(i, per_row)
        top, left = row * (height + gap), col * (width + gap)
        grid[top : top + height, left : left + width] = image
    return grid


def activation_grid(activation, per_row: int = 16) -> np.ndarray:
    """Every channel of one layer's output for one image (``(height, width, channels)``,
    or a batch of one) as standardised grey tiles, ``per_row`` to a row."""
    activation = np.asarray(activation)
    if activation.ndim == 4:
        activation = activation[0]
    channels = [standardize_channel(activation[..., c]) for c in range(activation.shape[-1])]
    return tile(channels, per_row)


def silent_channels(activation) -> int:
    """How many channels are zero everywhere for this image (their filter found nothing)."""
    activation = np.asarray(activation)
    if activation.ndim == 4:
        activation = activation[0]
    return int(np.sum(np.all(activation == 0, axis=(0, 1))))


# --- filter patterns by gradient ascent ---------------------------------------------------


def feature_extractor(model, layer_name: str):
    """A model from ``model``'s input to the output of ``layer_name`` (sharing its weights)."""
    import keras

    index = _layer_index(model, layer_name)
    if isinstance(model, keras.Sequential):
        return keras.Sequential(
            [keras.Input(model.input_shape[1:]), *model.layers[: index + 1]],
            name=f"{model.name}_to_{layer_name}",
        )
    return keras.Model(
        _inputs(model), model.get_layer(layer_name).output, name=f"{model.name}_to_{layer_name}"
    )


def grey_noise(count: int, size: int, seed: int = SEED) -> np.ndarray:
    """The starting images: mid-grey (128) with a little uniform noise (+-20), RGB 0..255."""
    rng = np.random.default_rng(seed)
    return (128 + rng.uniform(-20, 20, size=(count, size, size, 3))).astype(np.float32)


def _normalised(gradients, axes=(1, 2, 3)):
    """Gradients scaled so that each image's step has a root-mean-square of 1."""
    import tensorflow as tf

    rms = tf.sqrt(tf.reduce_mean(tf.square(gradients), axis=axes, keepdims=True))
    return gradients / (rms + 1e-8)


def deprocess_pattern(image, border: int = 0, contrast: float = 0.15) -> np.ndarray:
    """An ascent result made visible: centred, divided by its standard deviation, scaled
    by ``contrast`` around mid-grey, clipped to 0..1, as ``uint8``; ``border`` pixels are
    cropped from each side (they get the least reliable gradients)."""
    image = np.asarray(image, dtype=np.float64)
    image = (image - image.mean()) / (image.std() + 1e-5)
    image = np.clip(image * contrast + 0.5, 0, 1)
    if border:
        image = image[border:-border, border:-border]
    return np.round(image * 255).astype(np.uint8)


def filter_patterns(
    model,
    layer_name: str,
    filters,
    *,
    preprocess=None,
    size: int = 128,
    steps: int = 30,
    step_size: float = 0.03,
    border: int = 2,
    crop: int = 16,
    seed: int = SEED,
) -> np.ndarray:
    """The pattern each filter of ``layer_name`` responds to most: ``(n, h, w, 3)`` uint8.

    One batch holds one image per filter. The loss is the sum, over the
    batch, of the mean activation of each image's own filter, ignoring
    ``border`` pixels at the edge of the feature map (where zero padding
    distorts the response). The images climb that loss for ``steps`` steps,
    each gradient normalised per image to a root-mean-square of 1 and scaled
    by ``step_size`` (in the model's input units). They start from
    :func:`grey_noise` passed through ``preprocess`` (the model's input
    preprocessing; none by default), and end through
    :func:`deprocess_pattern`, with ``crop`` pixels cut from each side.
    """
    extractor = feature_extractor(model, layer_name)  # built once for the whole grid
    filters = _checked_filters(extractor, layer_name, filters)
    _check_sizes(extractor, size=size, border=border, crop=crop)
    start = grey_noise(len(filters), size, seed)
    images = ascend(
        extractor,
        preprocess(start) if preprocess is not None else start,
        filters,
        steps=steps,
        step_size=step_size,
        border=border,
    )
    return np.stack([deprocess_pattern(image, crop) for image in images])


def _checked_filters(extractor, layer_name: str, filters) -> np.ndarray:
    """``filters`` as an array of valid filter numbers of a layer with feature maps."""
    shape = extractor.output_shape
    if len(shape) != 4:
        names = ", ".join(conv_and_pool_layer_names(extractor))
        raise ValueError(
            f"layer_name {layer_name!r} outputs {shape[1:]}, not feature maps; "
            f"pick a convolution or pooling layer: {names}."
        )
    channels = int(shape[-1])
    allowed = f"{layer_name!r} has {channels} filters, numbered 0 to {channels - 1}"
    values = np.asarray(filters)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(
            f"filters is a non-empty list of filter numbers, e.g. [0, 1, 2]; {allowed}."
        )
    if values.dtype.kind not in "iu" or values.min() < 0 or values.max() >= channels:
        raise ValueError(f"filters holds {values.tolist()}, but {allowed}.")
    return values.astype(np.int64)


def _check_sizes(extractor, *, size: int, border: int, crop: int) -> None:
    """Refuse a starting image too small for ``crop``, or feature maps too small for ``border``."""
    takes = extractor.input_shape[1:3]
    if any(side not in (None, size) for side in takes):
        raise ValueError(f"size={size}, but the model takes {takes[0]} x {takes[1]} images.")
    if not 0 <= 2 * crop < size:
        raise ValueError(f"crop={crop} cuts more than a size-{size} image: keep 2 * crop < size.")
    side = extractor.compute_output_shape((1, size, size, 3))[1]
    if side is not None and not 0 <= 2 * border < side:
        raise ValueError(
            f"border={border} leaves nothing of the {side} x {side} feature maps that a "
            f"size-{size} image gives: use a smaller border or a larger size."
        )


def ascend(extractor, images, filters, *, steps: int, step_size: float, border: int):
    """Gradient ascent of a batch of input ``images``, image ``i`` on filter ``filters[i]``
    of ``extractor``'s output; returns the raw images (model input units)."""
    import tensorflow as tf

    channels = int(extractor.output_shape[-1])
    images = tf.Variable(np.asarray(images, dtype=np.float32))
    chosen = tf.one_hot(filters, channels)[:, tf.newaxis, tf.newaxis, :]  # (n, 1, 1, channels)

    @tf.function
    def ascent_step():
        with tf.GradientTape() as tape:
            activation = extractor(images, training=False)
            if border:
                activation = activation[:, border:-border, border:-border, :]
            # each image's own filter, averaged over its pixels; summed over the batch
            loss = tf.reduce_sum(tf.reduce_mean(activation * chosen, axis=(1, 2)))
        images.assign_add(step_size * _normalised(tape.gradient(loss, images)))

    for _ in range(steps):
        ascent_step()
    return images.numpy()


def filter_pattern_one_at_a_time(
    model, layer_name: str, filter_index: int, *, preprocess=None, **settings
) -> np.ndarray:
    """The original way, for comparison: a fresh feature-extraction model built for this
    one filter, and a plain (eager, uncompiled) ascent on one image. ``settings`` are
    those of :func:`filter_patterns` (``size``, ``steps``, ``step_size``, ``border``,
    ``crop``, ``seed``), with its defaults: the same loss, steps and starting image."""
    import tensorflow as tf

    unknown = sorted(set(settings) - set(_ASCENT_DEFAULTS))
    if unknown:
        known = ", ".join(_ASCENT_DEFAULTS)
        raise TypeError(f"Unknown setting {unknown[0]!r}; the settings are {known}.")
    size, steps, step_size, border, crop, seed = {**_ASCENT_DEFAULTS, **settings}.values()
    extractor = feature_extractor(model, layer_name)
    if np.ndim(filter_index) != 0:
        raise ValueError(f"filter_index is one filter's number, not {filter_index!r}.")
    (filter_index,) = _checked_filters(extractor, layer_name, [filter_index])
    _check_sizes(extractor, size=size, border=border, crop=crop)
    start = grey_noise(1, size, seed)
    image = tf.convert_to_tensor(preprocess(start) if preprocess is not None else start)
    for _ in range(steps):
        with tf.GradientTape() as tape:
            tape.watch(image)
            activation = extractor(image, training=False)
            if border:
                activation = activation[:, border:-border, border:-border, :]
            loss = tf.reduce_mean(activation[..., filter_index])
        image = image + step_size * _normalised(tape.gradient(loss, image))
    return deprocess_pattern(image.numpy()[0], crop)


# filter_patterns' settings and their defaults, in its order: the one-at-a-time way shares them.
_ASCENT_DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(filter_patterns).parameters.items()
    if parameter.kind is inspect.Parameter.KEYWORD_ONLY and name != "preprocess"
}


__all__ = [
    "activation_grid",
    "ascend",
    "conv_and_pool_layer_names",
    "deprocess_pattern",
    "feature_extractor",
    "filter_pattern_one_at_a_time",
    "filter_patterns",
    "grey_noise",
    "layer_activations",
    "silent_channels",
    "standardize_channel",
    "tile",
]

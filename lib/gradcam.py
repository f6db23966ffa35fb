"""Grad-CAM: which parts of an image drove a convnet's decision for one class.

Grad-CAM (Selvaraju et al., 2017) looks at a convolution layer's output, a
stack of feature maps, and asks how much the score of one class would change
if each feature map grew. That gradient, averaged over the map's pixels, is
the weight of the channel for that class; the weighted sum of the channels,
with its negative part cut off (ReLU) and scaled to 0..1, is the heatmap.

:func:`make_gradcam_heatmap` works on any Keras model:

- **Functional** models (``keras.Model(inputs, outputs)``, the ImageNet
  classifiers) are split with the usual recipe, a second model with two
  outputs, ``keras.Model(model.inputs, [layer.output, ...])``;
- **Sequential** models have no such graph to reuse until they are called
  (``model.output`` raises ``AttributeError`` on the Dogs vs. Cats convnet),
  so their forward pass is replayed layer by layer, keeping the chosen
  layer's output on the way; a model nested in a Sequential one (a
  pretrained base with a new head) is entered the same way.

**Which class score?** The score differentiated is the class's *logit*, the
value before the final softmax or sigmoid, as in the Grad-CAM paper: a
probability close to 1 saturates, and its gradient can underflow to exactly
zero in float32. When the model ends with a ``Dense`` layer whose activation
is softmax or sigmoid, the logit is recomputed from that layer's input; any
other model's output is used as it is.

**Binary models.** A model with a single sigmoid unit (chapter 5's, whose
output is the probability of *dog*) has two classes: class 1 is the unit's
logit ``z`` (evidence for dog) and class 0 its opposite ``-z`` (evidence for
cat, since the log-odds of cat are ``-z``).

The figures of heatmaps are drawn by :mod:`lib.plots.maps`.
"""

from __future__ import annotations

import numbers

import numpy as np

# Layers that keep a convolution's feature maps' shape and act on them pixel by pixel or
# channel by channel: the default Grad-CAM layer is the last convolution *after* these.
_PER_PIXEL = ("BatchNormalization", "Activation", "ReLU", "LeakyReLU", "ELU", "PReLU", "Softmax")
_CONVOLUTIONS = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Conv2DTranspose")


def _inputs(model):
    """A model's input tensor (or list of them when it has several), as Keras expects it."""
    return model.inputs[0] if len(model.inputs) == 1 else model.inputs


# --- the layers of a model --------------------------------------------------------------


def _is_model(layer) -> bool:
    import keras

    return isinstance(layer, keras.Model)


def _walk(model):
    """Every layer of ``model`` in order, entering nested models (which are listed first)."""
    for layer in model.layers:
        yield layer
        if _is_model(layer):
            yield from _walk(layer)


def _output_rank(layer) -> int | None:
    try:
        return len(layer.output.shape)
    except (AttributeError, ValueError):  # a layer never called (inside a Sequential)
        return None


def _feature_map_layers(model) -> list:
    """The layers whose output is a stack of feature maps (batch, height, width, channels)."""
    return [layer for layer in _walk(model) if not _is_model(layer) and _output_rank(layer) == 4]


def feature_map_layer_names(model) -> list[str]:
    """The names of the layers Grad-CAM can use: those whose output has height, width and
    channels (convolutions, poolings, their activations...), in order."""
    return [layer.name for layer in _feature_map_layers(model)]


def last_conv_layer_name(model) -> str:
    """The default Grad-CAM layer: the last convolution, followed through the layers right
    after it that only rescale or activate its feature maps (BatchNormalization, ReLU...), so
    that the heatmap reads the features the rest of the network sees.

    VGG16: ``block5_conv3`` (its ReLU is built in); EfficientNet-Lite0: ``top_activation``;
    the Dogs vs. Cats convnet: ``conv4``.
    """
    layers = [layer for layer in _walk(model) if not _is_model(layer)]
    convolutions = [i for i, layer in enumerate(layers) if type(layer).__name__ in _CONVOLUTIONS]
    if not convolutions:
        raise ValueError(f"Model {model.name!r} has no convolution layer.")
    index = convolutions[-1]
    while (
        index + 1 < len(layers)
        and type(layers[index + 1]).__name__ in _PER_PIXEL
        and _output_rank(layers[index + 1]) == 4
    ):
        index += 1
    return layers[index].name


def _check_layer(model, layer_name: str | None) -> str:
    if layer_name is None:
        return last_conv_layer_name(model)
    valid = feature_map_layer_names(model)
    if layer_name not in valid:
        known = {layer.name for layer in _walk(model)}
        problem = "has no 2-D feature maps" if layer_name in known else "is not a layer"
        raise ValueError(
            f"{layer_name!r} {problem} of model {model.name!r}; Grad-CAM can use: "
            f"{', '.join(valid)}."
        )
    return layer_name


# --- the forward pass, split at a layer -------------------------------------------------


def _logit_layer(model):
    """The last layer when it is a Dense layer ending in softmax or sigmoid, else ``None``."""
    import keras

    last = model.layers[-1]
    if _is_model(last):
        return _logit_layer(last) if isinstance(last, keras.Sequential) else None
    if isinstance(last, keras.layers.Dense):
        name = getattr(last.activation, "__name__", "")
        if name in ("softmax", "sigmoid"):
            return last
    return None


def _dense_logits(layer, inputs):
    """What a Dense layer computes before its activation."""
    from keras import ops

    logits = ops.matmul(inputs, layer.kernel)
    return logits + layer.bias if layer.use_bias else logits


def _contains(model, layer_name: str) -> bool:
    return any(layer.name == layer_name for layer in _walk(model))


def _run_sequential(model, x, layer_name: str, logit_layer):
    """Replay a Sequential model layer by layer: (the named layer's output, the scores).

    With ``logit_layer``, the pass stops there and returns that layer's logits.
    """
    import keras

    features = None
    for layer in model.layers:
        if layer is logit_layer:
            return features, _dense_logits(layer, x)
        wanted = features is None and _contains(layer, layer_name) if _is_model(layer) else False
        holds_logits = (
            logit_layer is not None and _is_model(layer) and _contains(layer, logit_layer.name)
        )
        if features is None and layer.name == layer_name:
            x = features = layer(x, training=False)
        elif isinstance(layer, keras.Sequential) and (wanted or holds_logits):
            inner, x = _run_sequential(layer, x, layer_name if wanted else "", logit_layer)
            features = inner if wanted else features
            if holds_logits:
                return features, x
        elif wanted:
            features, x = _split_functional(layer, layer_name, None)(x, training=False)
        else:
            x = layer(x, training=False)
    return features, x


_SPLITS: dict = {}  # (id(model), layer name, logits) -> the two-output model


def _split_functional(model, layer_name: str, logit_layer):
    """``keras.Model(model.inputs, [layer output, scores])``, built once per model and layer."""
    import keras

    key = (id(model), layer_name, logit_layer is not None)
    cached = _SPLITS.get(key)
    if cached is not None and cached[0] is model:
        return cached[1]
    try:
        features = model.get_layer(layer_name).output
    except ValueError:
        raise ValueError(
            f"{layer_name!r} is inside a model nested in the functional model {model.name!r}; "
            "pass the nested model itself to Grad-CAM."
        ) from None
    scores = logit_layer.input if logit_layer is not None else model.outputs[0]
    split = keras.Model(_inputs(model), [features, scores], name=f"{model.name}_gradcam")
    if len(_SPLITS) > 32:
        _SPLITS.clear()
    _SPLITS[key] = (model, split)
    return split


def _features_and_scores(model, x, layer_name: str, use_logits: bool):
    """The named layer's output and the class scores (logits when possible), one forward pass."""
    import keras

    logit_layer = _logit_layer(model) if use_logits else None
    if isinstance(model, keras.Sequential):
        return _run_sequential(model, x, layer_name, logit_layer)
    features, scores = _split_functional(model, layer_name, logit_layer)(x, training=False)
    if logit_layer is not None:
        scores = _dense_logits(logit_layer, scores)
    return features, scores


def _class_score(scores, class_index):
    """The score of one class; a single sigmoid unit has two classes (1: z, 0: -z)."""
    import tensorflow as tf

    if scores.shape[-1] == 1:
        return tf.where(tf.equal(class_index, 1), scores[:, 0], -scores[:, 0])
    return tf.gather(scores, class_index, axis=1)


_COMPILED: dict = {}  # (id(model), layer name, logits) -> (model, compiled gradient function)


def gradient_function(model, layer_name: str, use_logits: bool):
    """A compiled (``tf.function``) pass: the layer's feature maps and the gradient of one
    class's score with respect to them. Traced once per model and layer; the class is an
    argument, so every class reuses the same graph."""
    import tensorflow as tf

    key = (id(model), layer_name, use_logits)
    cached = _COMPILED.get(key)
    if cached is not None and cached[0] is model:
        return cached[1]

    @tf.function
    def features_and_gradients(batch, class_index):
        with tf.GradientTape() as tape:
            features, scores = _features_and_scores(model, batch, layer_name, use_logits)
            score = _class_score(scores, class_index)
        return features, tape.gradient(score, features)

    if len(_COMPILED) > 32:
        _COMPILED.clear()
    _COMPILED[key] = (model, features_and_gradients)
    return features_and_gradients


def number_of_classes(model) -> int:
    """How many classes the model tells apart (2 for a single sigmoid unit)."""
    units = int(model.output_shape[-1])
    return 2 if units == 1 else units


# --- Grad-CAM -----------------------------------------------------------------------------


def _as_batch(model, image) -> np.ndarray:
    """One image as a batch of one, refused with a sentence if the model cannot take it."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 3:
        image = image[np.newaxis]
    if image.ndim != 4 or image.shape[0] != 1:
        raise ValueError(f"Grad-CAM takes one image (height, width, channels), got {image.shape}.")
    expected = model.input_shape
    if isinstance(expected, tuple) and len(expected) == 4:
        if any(
            want not in (None, got) for want, got in zip(expected[1:], image.shape[1:], strict=True)
        ):
            shape = " x ".join("any" if side is None else str(side) for side in expected[1:])
            raise ValueError(
                f"image is {' x '.join(map(str, image.shape[1:]))} but {model.name!r} takes "
                f"{shape} images: resize it first (images.load_image(path, image_size=...))."
            )
    bad = int(np.size(image) - np.count_nonzero(np.isfinite(image)))
    if bad:
        raise ValueError(
            f"image holds {bad} NaN or infinite values; Grad-CAM needs the finite pixel "
            "values the model was trained on (check the preprocessing)."
        )
    return image


def predicted_class(model, image) -> int:
    """The class the model picks for one (preprocessed) image: the largest score, or for a
    single sigmoid unit 1 when its probability is above 0.5."""
    output = np.asarray(model(_as_batch(model, image), training=False))[0]
    return int(output[0] > 0.5) if output.shape[-1] == 1 else int(np.argmax(output))


def make_gradcam_heatmap(
    model,
    image,
    class_index: int | None = None,
    layer_name: str | None = None,
    *,
    use_logits: bool = True,
) -> np.ndarray:
    """The Grad-CAM heatmap of ``class_index`` for one image, with values 0..1.

    ``image`` is one preprocessed image, as the model takes it (with or
    without the batch axis of 1). ``class_index`` defaults to the predicted
    class; for a model with a single sigmoid unit, 1 is the positive class
    and 0 the negative one. ``layer_name`` defaults to the last convolution
    layer (:func:`last_conv_layer_name`); any layer with feature maps works.
    The heatmap has that layer's height and width. It is all zeros when no
    pixel speaks for the class (every weighted sum is negative).
    """
    import tensorflow as tf

    layer_name = _check_layer(model, layer_name)
    batch = _as_batch(model, image)
    if class_index is None:
        class_index = predicted_class(model, batch)
    _check_class(model, class_index)
    compute = gradient_function(model, layer_name, use_logits)
    # How much the class score changes with each feature-map pixel ...
    features, gradients = compute(tf.constant(batch), tf.constant(int(class_index)))
    # ... averaged over the pixels: one weight per channel.
    weights = tf.reduce_mean(gradients, axis=(0, 1, 2))
    return weighted_heatmap(features[0], weights)


def weighted_heatmap(features, weights) -> np.ndarray:
    """The channels of ``features`` (height, width, channels) summed with ``weights``, the
    negative part cut off (it speaks against the class), scaled so that the peak is 1."""
    heatmap = np.maximum(np.tensordot(np.asarray(features), np.asarray(weights), axes=1), 0)
    peak = heatmap.max()
    return (heatmap / peak if peak > 0 else heatmap).astype(np.float32)


def _check_class(model, class_index) -> None:
    classes = number_of_classes(model)
    if not isinstance(class_index, numbers.Integral):
        raise ValueError(f"class_index must be a whole number, not {class_index!r}.")
    if isinstance(class_index, bool) or not 0 <= int(class_index) < classes:
        raise ValueError(
            f"class_index {class_index!r} is out of range: model {model.name!r} has "
            f"{classes} classes, 0 to {classes - 1}."
        )


def contrastive_heatmap(model, image, class_index: int, other_index: int, layer_name=None):
    """Where the image speaks for ``class_index`` *rather than* ``other_index``.

    A class's heatmap also shows evidence that a similar class shares (an
    elephant's trunk, for African and Indian elephants alike). Grad-CAM of the
    *difference* of the two scores keeps what tells them apart; its channel
    weights are those of the first class minus those of the other.
    """
    import tensorflow as tf

    layer_name = _check_layer(model, layer_name)
    batch = tf.constant(_as_batch(model, image))
    compute = gradient_function(model, layer_name, True)
    weights = []
    for index in (class_index, other_index):
        _check_class(model, index)
        features, gradients = compute(batch, tf.constant(int(index)))
        weights.append(tf.reduce_mean(gradients, axis=(0, 1, 2)))
    return weighted_heatmap(features[0], weights[0] - weights[1])


# --- showing it -----------------------------------------------------------------------------


def resize_heatmap(heatmap, size: tuple[int, int]) -> np.ndarray:
    """A heatmap resized (bilinear) to ``size`` = (height, width), values kept in 0..1."""
    from PIL import Image

    picture = Image.fromarray(np.asarray(heatmap, dtype=np.float32), mode="F")
    resized = np.asarray(picture.resize((size[1], size[0]), Image.Resampling.BILINEAR))
    return np.clip(resized, 0.0, 1.0)


def heat_share(heatmap, region) -> float:
    """The share of a heatmap's heat inside ``region``, a boolean mask of any size (the
    heatmap is resized to it): how much of the evidence lies there."""
    region = np.asarray(region, dtype=bool)
    resized = resize_heatmap(heatmap, region.shape)
    total = resized.sum()
    return float(resized[region].sum() / total) if total > 0 else 0.0


def overlay_heatmap(image, heatmap, alpha: float = 0.4, colormap: str = "jet") -> np.ndarray:
    """The photo with the heatmap on top, as RGB ``uint8``.

    The heatmap is resized to the photo, coloured with ``colormap`` (jet: blue
    for 0, red for 1) and blended in with weight ``alpha``:
    ``(1 - alpha) * photo + alpha * colours``.
    """
    import matplotlib

    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        image = np.repeat(image[..., np.newaxis], 3, axis=-1)
    if image.max() <= 1.0:
        image = image * 255.0
    heat = resize_heatmap(heatmap, image.shape[:2])
    colours = matplotlib.colormaps[colormap](heat)[..., :3] * 255.0
    blended = (1.0 - alpha) * image[..., :3] + alpha * colours
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)


__all__ = [
    "contrastive_heatmap",
    "feature_map_layer_names",
    "last_conv_layer_name",
    "make_gradcam_heatmap",
    "number_of_classes",
    "overlay_heatmap",
    "gradient_function",
    "heat_share",
    "predicted_class",
    "resize_heatmap",
    "weighted_heatmap",
]

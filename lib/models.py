"""The models the chapters train, built by plain functions with named layers.

Every layer gets an explicit ``name`` so that a model summary reads the same
however many models the notebook built before it (Keras would otherwise
number them ``conv2d_7``, ``dense_12``, ...). The builders return models that
are built (their input shape is known) but not compiled: compiling, which
chooses the optimizer, the loss and the metrics, is part of the training
recipe and stays in the chapter.
"""

from __future__ import annotations

import keras
from keras import layers


def mnist_convnet() -> keras.Sequential:
    """The MNIST convnet: three convolutions, two poolings, a small dense classifier."""
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1), name="digit"),
            layers.Conv2D(32, (3, 3), activation="relu", name="conv1"),
            layers.MaxPooling2D((2, 2), name="pool1"),
            layers.Conv2D(64, (3, 3), activation="relu", name="conv2"),
            layers.MaxPooling2D((2, 2), name="pool2"),
            layers.Conv2D(64, (3, 3), activation="relu", name="conv3"),
            layers.Flatten(name="flatten"),
            layers.Dense(64, activation="relu", name="dense"),
            layers.Dense(10, activation="softmax", name="predictions"),
        ],
        name="mnist_convnet",
    )


def mnist_dense() -> keras.Sequential:
    """The densely connected baseline: every pixel feeds every one of 512 units."""
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1), name="digit"),
            layers.Flatten(name="flatten"),
            layers.Dense(512, activation="relu", name="dense"),
            layers.Dense(10, activation="softmax", name="predictions"),
        ],
        name="mnist_dense",
    )


def cats_dogs_convnet(
    input_shape: tuple[int, int, int] = (150, 150, 3),
    dropout: float | None = None,
    precision: str = "float32",
) -> keras.Sequential:
    """The Dogs vs. Cats convnet: four convolution + pooling stages, then a dense classifier.

    The filters double from 32 to 128 while the feature maps shrink from
    148x148 to 7x7. ``dropout`` (e.g. 0.5) adds a Dropout layer between the
    flattened features and the dense classifier. The last layer has one
    sigmoid unit: the probability that the photo shows a dog (class 1).
    ``precision="mixed_bfloat16"`` makes every layer but that last one compute
    in bfloat16 (see :func:`lib.config.training_precision`); the probability
    itself stays float32.
    """
    stack = [keras.Input(shape=input_shape, name="photo")]
    for stage, filters in enumerate((32, 64, 128, 128), start=1):
        stack.append(
            layers.Conv2D(filters, (3, 3), activation="relu", name=f"conv{stage}", dtype=precision)
        )
        stack.append(layers.MaxPooling2D((2, 2), name=f"pool{stage}", dtype=precision))
    stack.append(layers.Flatten(name="flatten", dtype=precision))
    if dropout:
        stack.append(layers.Dropout(dropout, name="dropout", dtype=precision))
    stack.append(layers.Dense(512, activation="relu", name="dense", dtype=precision))
    stack.append(layers.Dense(1, activation="sigmoid", name="predictions", dtype="float32"))
    name = "cats_dogs_convnet" if not dropout else "cats_dogs_convnet_dropout"
    return keras.Sequential(stack, name=name)

"""Data augmentation: the course's random transformations as Keras layers.

The original course augmented photos with the legacy ``ImageDataGenerator``
(rotation, shifts, shear, zoom, horizontal flips). Keras 3 replaces it with
preprocessing layers, one per transformation: :func:`keras_layers` builds
that one-to-one translation. Each of those layers resamples the photo again,
so four geometric layers in a row cost four resamplings (and, with bilinear
sampling, blur the photo four times). :class:`RandomAffine` draws the same
random transformations, composes them into *one* affine map per photo and
resamples once, as ``ImageDataGenerator`` did: several times cheaper, and
sharp. :func:`pipeline` is what the book trains with.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from lib.config import SEED


@keras.saving.register_keras_serializable(package="convnets")
class RandomAffine(keras.layers.Layer):
    """Random rotation, shifts, shear, zoom and flip, composed and applied at once.

    The ranges mean what they mean for Keras's layers: up to
    ``rotation_degrees`` either way, shifts of up to ``width_shift`` and
    ``height_shift`` of the image's size, a horizontal shear of up to
    ``shear`` (the top row moves by that fraction of the height relative to
    the bottom row), each axis zoomed by a factor between ``1 - zoom`` and
    ``1 + zoom``, and a mirror image half of the time. All act about the
    image's centre. Active only with ``training=True``.
    """

    def __init__(
        self,
        rotation_degrees: float = 40,
        width_shift: float = 0.2,
        height_shift: float = 0.2,
        shear: float = 0.2,
        zoom: float = 0.2,
        horizontal_flip: bool = True,
        fill_mode: str = "nearest",
        interpolation: str = "bilinear",
        seed: int = SEED,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.rotation_degrees = rotation_degrees
        self.width_shift = width_shift
        self.height_shift = height_shift
        self.shear = shear
        self.zoom = zoom
        self.horizontal_flip = horizontal_flip
        self.fill_mode = fill_mode
        self.interpolation = interpolation
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def sample_parameters(self, batch_size) -> dict:
        """One random transformation per image: angle (radians), shifts and shear
        (fractions of the size), zoom factors, and ``flip`` (-1 mirrors, 1 does not)."""

        def uniform(limit, centre=0.0):
            return keras.random.uniform(
                (batch_size,), centre - limit, centre + limit, seed=self.seed_generator
            )

        flip = ops.ones((batch_size,))
        if self.horizontal_flip:
            coin = keras.random.uniform((batch_size,), seed=self.seed_generator)
            flip = ops.where(coin < 0.5, -1.0, 1.0)
        return {
            "angle": uniform(math.radians(self.rotation_degrees)),
            "shift_x": uniform(self.width_shift),
            "shift_y": uniform(self.height_shift),
            "shear": uniform(self.shear),
            "zoom_x": uniform(self.zoom, centre=1.0),
            "zoom_y": uniform(self.zoom, centre=1.0),
            "flip": flip,
        }

    def call(self, images, training=False):
        if not training:
            return images
        shape = ops.shape(images)
        height, width = ops.cast(shape[1], "float32"), ops.cast(shape[2], "float32")
        transforms = affine_transforms(self.sample_parameters(shape[0]), height, width)
        return ops.image.affine_transform(
            images, transforms, interpolation=self.interpolation, fill_mode=self.fill_mode
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "rotation_degrees": self.rotation_degrees,
            "width_shift": self.width_shift,
            "height_shift": self.height_shift,
            "shear": self.shear,
            "zoom": self.zoom,
            "horizontal_flip": self.horizontal_flip,
            "fill_mode": self.fill_mode,
            "interpolation": self.interpolation,
            "seed": self.seed,
        }


def keras_layers(
    affine: RandomAffine | None = None, interpolation: str = "bilinear"
) -> keras.Sequential:
    """The ranges of ``affine`` (by default the course's) as Keras's own layers, one each.

    The one-to-one translation of ``ImageDataGenerator``'s arguments. Each layer
    draws a new random transformation for every image of a batch, only when
    called with ``training=True``, and resamples the photo again, reading each
    output pixel from the input with ``interpolation``.
    """
    affine = affine if affine is not None else RandomAffine()
    seed = affine.seed
    layers = keras.layers
    geometric = {"fill_mode": affine.fill_mode, "interpolation": interpolation}
    rotation, shear, zoom = affine.rotation_degrees / 360, affine.shear, affine.zoom
    shifts = (affine.height_shift, affine.width_shift)
    steps = [
        layers.RandomRotation(rotation, **geometric, seed=seed, name="random_rotation"),
        layers.RandomTranslation(*shifts, **geometric, seed=seed + 1, name="random_translation"),
        layers.RandomShear(x_factor=shear, **geometric, seed=seed + 2, name="random_shear"),
        layers.RandomZoom(zoom, zoom, **geometric, seed=seed + 3, name="random_zoom"),
    ]
    if affine.horizontal_flip:
        steps.append(layers.RandomFlip("horizontal", seed=seed + 4, name="random_flip"))
    # A named input: without one Keras numbers it (input_layer_3...) by how many
    # models the session built before, and the training recipe, which records
    # the augmentation, would change from one notebook to the next.
    image = keras.Input(shape=(None, None, 3), name="image")
    return keras.Sequential([image, *steps], name="keras_layers")


def affine_transforms(parameters: dict, height, width):
    """Compose each image's transformations into the 8 numbers ``affine_transform`` takes.

    An output pixel at ``p`` (x, y) is read from the input at ``A @ (p - c) + c + t``:
    ``c`` is the image's centre, ``t`` the shift in pixels, and
    ``A = rotation @ shear @ zoom @ flip``. One matrix per image, one resampling.
    """
    angle, flip = parameters["angle"], parameters["flip"]
    cos, sin = ops.cos(angle), ops.sin(angle)
    shear = parameters["shear"]
    zoom_x, zoom_y = parameters["zoom_x"] * flip, parameters["zoom_y"]
    # rotation [[cos, -sin], [sin, cos]] @ shear [[1, s], [0, 1]] @ diag(zoom_x, zoom_y)
    a00, a01 = cos * zoom_x, (cos * shear - sin) * zoom_y
    a10, a11 = sin * zoom_x, (sin * shear + cos) * zoom_y
    centre_x, centre_y = (width - 1) / 2, (height - 1) / 2
    offset_x = centre_x + parameters["shift_x"] * width - (a00 * centre_x + a01 * centre_y)
    offset_y = centre_y + parameters["shift_y"] * height - (a10 * centre_x + a11 * centre_y)
    zeros = ops.zeros_like(a00)
    return ops.stack([a00, a01, offset_x, a10, a11, offset_y, zeros, zeros], axis=1)


# Named sets of ranges, for pipeline(**RANGES[name]): "course" is the original course's
# ImageDataGenerator (RandomAffine's defaults); "mild" turns and shifts half as far and
# does not shear, which a short training run learns from faster (chapter 5's CI recipe).
RANGES = {
    "course": {"rotation_degrees": 40, "width_shift": 0.2, "height_shift": 0.2, "shear": 0.2},
    "mild": {"rotation_degrees": 20, "width_shift": 0.1, "height_shift": 0.1, "shear": 0.0},
}


def pipeline(seed: int = SEED, **ranges) -> keras.Sequential:
    """The book's augmentation: one :class:`RandomAffine` with the course's ranges,
    or with ``ranges`` (e.g. ``**RANGES["mild"]``) where given."""
    image = keras.Input(shape=(None, None, 3), name="image")  # named: see keras_layers
    return keras.Sequential(
        [image, RandomAffine(**ranges, seed=seed, name="random_affine")], name="augmentation"
    )

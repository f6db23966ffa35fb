"""Exercises that check themselves, one module per chapter topic.

``check("convolution.output_size", answer)`` in a chapter's exercise cell
says whether the answer is right; :data:`EXERCISES` lists every exercise.
The modules below register their exercises when this package is imported.
"""

from lib.exercises import (  # noqa: F401  (each registers its chapter's exercises)
    augmentation,
    convolution,
    dogs_vs_cats,
    gradcam,
    mnist,
    pooling,
    pretrained,
    visualizing,
)
from lib.exercises.core import EXERCISES, Choice, Code, Feedback, Number, check

__all__ = ["EXERCISES", "Choice", "Code", "Feedback", "Number", "check"]

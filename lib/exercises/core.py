"""Exercises that check themselves: the registry, the three kinds, and the feedback.

A chapter's exercise cell calls ``check("topic.name", answer)``. The checker
works out the right answer itself, from the library (never from a typed
constant), and says *right*, or what is off with a hint that does not give
the answer away. Until the reader answers (``answer = ...``, or a function
whose body is still ``...``) it says so politely, so an executed book and
nbval see a quiet, stable output.

Three kinds:

* :class:`Number`: a value compared with a computed one; known mistakes
  (the bias forgotten, padding ignored) get their own hint.
* :class:`Choice`: one letter among choices, each with the explanation of why
  it is right or wrong.
* :class:`Code`: a function the reader writes, run on cases the reader never
  saw; ``test`` returns ``None`` when it passes, else the hint.

Numbers and choices also check on the static HTML page, with no kernel: their
feedback carries a small form and inline script (see :mod:`lib.exercises.page`).
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

EXERCISES: dict[str, Exercise] = {}


def register(exercise: Exercise) -> Exercise:
    """Add an exercise to the registry under its id (ids are unique)."""
    if exercise.id in EXERCISES:
        raise ValueError(f"Exercise {exercise.id!r} is registered twice.")
    EXERCISES[exercise.id] = exercise
    return exercise


def unanswered(answer) -> bool:
    """True for the placeholders a reader has not replaced yet: ``...`` and ``None``."""
    return answer is ... or answer is None


@dataclass(frozen=True)
class Feedback:
    """What a check says: shown as text in a terminal, as HTML in a notebook or page."""

    exercise: Exercise
    status: str  # "unanswered", "right" or "wrong"
    message: str

    def __bool__(self) -> bool:
        return self.status == "right"

    def __repr__(self) -> str:
        return self.message

    def _repr_html_(self) -> str:
        from lib.exercises.page import feedback_html

        return feedback_html(self)


@dataclass(frozen=True)
class Exercise:
    """Common to every kind: an id such as ``"convolution.output_size"`` and a hint."""

    id: str
    hint: str  # said for any wrong answer no mistake below explains

    def check(self, answer) -> Feedback:
        if unanswered(answer):
            return self.feedback("unanswered", self.waiting())
        verdict = self.verdict(answer)
        if verdict is None:
            return self.feedback("right", "Right!")
        return self.feedback("wrong", f"Not yet: {verdict}")

    def feedback(self, status: str, message: str) -> Feedback:
        return Feedback(self, status, message)

    def waiting(self) -> str:
        return "Not answered yet: replace ... with your answer and run this cell again."

    def verdict(self, answer) -> str | None:
        """``None`` for a right answer, else the hint to show."""
        raise NotImplementedError


@dataclass(frozen=True)
class Number(Exercise):
    """A numeric answer, within ``tolerance`` of ``solve()``'s value.

    ``mistakes`` maps a function computing a typical wrong value to the hint
    for it, so a reader who forgot the bias hears about the bias.
    """

    solve: Callable[[], float] = None
    tolerance: float = 0.0
    mistakes: Mapping[Callable[[], float], str] = field(default_factory=dict)

    def right_value(self) -> float:
        return self.solve()

    def close(self, value: float, target: float) -> bool:
        return math.isclose(value, target, rel_tol=0, abs_tol=self.tolerance + 1e-9)

    def known_mistakes(self) -> list[tuple[float, str]]:
        """(wrong value, hint) pairs, leaving out any that equal the right value."""
        right = self.right_value()
        return [(m(), hint) for m, hint in self.mistakes.items() if not self.close(m(), right)]

    def verdict(self, answer) -> str | None:
        try:
            value = float(answer)
        except (TypeError, ValueError):
            return f"the answer should be a number, not {answer!r}."
        if self.close(value, self.right_value()):
            return None
        for wrong, hint in self.known_mistakes():
            if self.close(value, wrong):
                return hint
        return self.hint


@dataclass(frozen=True)
class Choice(Exercise):
    """One letter among ``choices`` (letter -> (text, explanation)); ``right`` names it."""

    choices: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    right: str = ""

    def waiting(self) -> str:
        lines = ["Not answered yet: set answer to one letter and run this cell again."]
        lines += [f"  {letter}) {text}" for letter, (text, _) in self.choices.items()]
        return "\n".join(lines)

    def verdict(self, answer) -> str | None:
        letter = str(answer).strip().lower().rstrip(")")
        if letter not in self.choices:
            return f"answer with one of the letters {', '.join(self.choices)}, not {answer!r}."
        explanation = self.choices[letter][1]
        return None if letter == self.right else explanation

    def check(self, answer) -> Feedback:
        feedback = super().check(answer)
        if feedback:  # a right answer also hears why
            return self.feedback("right", f"Right! {self.choices[self.right][1]}")
        return feedback


@dataclass(frozen=True)
class Code(Exercise):
    """Code the reader writes: a function (or, with ``function=False``, a value such
    as a kernel array) that ``test`` tries on cases the reader never saw.

    ``test`` returns ``None`` when every case passes, else a hint naming what
    went wrong on which kind of case (not the expected numbers). A function that
    still returns ``...`` (the template's ``return ...``) is not answered yet.
    """

    test: Callable[[object], str | None] = None
    function: bool = True

    def waiting(self) -> str:
        blank = "the function's body" if self.function else "your answer"
        return f"Not answered yet: write {blank} in place of ... and run this cell again."

    def check(self, answer) -> Feedback:
        if self.function and not unanswered(answer) and not callable(answer):
            return self.feedback("wrong", f"Not yet: pass the function itself, not {answer!r}.")
        try:
            return super().check(answer)
        except _StillBlank:
            return self.feedback("unanswered", self.waiting())

    def verdict(self, answer) -> str | None:
        try:
            return self.test(_guard_blank(answer) if self.function else answer)
        except _StillBlank:
            raise
        except _ReturnedNone:
            return "your function returned None: does it end with a return statement?"
        except Exception as error:  # the reader's code raised: say so, do not crash the cell
            return f"your function raised {type(error).__name__}: {error}"


class _StillBlank(Exception):
    """Raised when the reader's function returned ``...``: nothing written yet."""


class _ReturnedNone(Exception):
    """Raised when the reader's function returned nothing (a missing ``return``)."""


def _guard_blank(function: Callable) -> Callable:
    def guarded(*args, **kwargs):
        result = function(*args, **kwargs)
        if result is ...:
            raise _StillBlank
        if result is None:
            raise _ReturnedNone
        return result

    return guarded


def seeded_weights(model, seed: int):
    """``model`` with weights drawn from a seeded generator: hidden cases stay the same
    from run to run, and Keras's own random state is left alone."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def hidden_convnet(name: str, side: int, classes: int, seed: int, *, pool_last: bool = False):
    """A small convnet the reader never saw, for the hidden cases of a code answer:
    ``conv1`` (4 filters), ``pool1``, ``conv2`` (6), ``pool2`` if ``pool_last``, then a
    softmax over ``classes``, on ``side`` x ``side`` RGB images, with seeded weights."""
    import keras
    from keras import layers

    zeros = {"kernel_initializer": "zeros"}  # drawn by seeded_weights, not by Keras's rng
    convnet = [
        keras.Input(shape=(side, side, 3), name="image"),
        layers.Conv2D(4, (3, 3), activation="relu", name="conv1", **zeros),
        layers.MaxPooling2D((2, 2), name="pool1"),
        layers.Conv2D(6, (3, 3), activation="relu", name="conv2", **zeros),
    ]
    if pool_last:
        convnet.append(layers.MaxPooling2D((2, 2), name="pool2"))
    head = [
        layers.Flatten(name="flatten"),
        layers.Dense(classes, activation="softmax", name="predictions", **zeros),
    ]
    return seeded_weights(keras.Sequential([*convnet, *head], name=name), seed)


def check(exercise_id: str, answer) -> Feedback:
    """Check ``answer`` to the exercise ``exercise_id``; display the result in a cell."""
    if exercise_id not in EXERCISES:
        known = ", ".join(sorted(EXERCISES))
        raise KeyError(f"No exercise {exercise_id!r}; the exercises are: {known}.")
    return EXERCISES[exercise_id].check(answer)


def escape(text: str) -> str:
    return html.escape(text, quote=True)

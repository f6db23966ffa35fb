"""What training prints while it runs: one line per epoch, and how long it should take.

Training a chapter's model takes minutes on a CPU; a reader who sees each
epoch as it ends, and early on how long the whole run should take, knows
whether to wait or to switch to a GPU runtime. Loading a model from the cache
prints the same per-epoch table (:func:`format_history`).
"""

from __future__ import annotations

import time


def _describe_logs(logs: dict) -> str:
    return "  ".join(f"{name} {float(value):.4f}" for name, value in logs.items())


def format_history(history: dict, seconds: list[float] | None = None) -> str:
    """One line per epoch: the epoch, its time (when known) and every metric."""
    epochs = len(next(iter(history.values()), []))
    lines = []
    for epoch in range(epochs):
        timing = f" ({seconds[epoch]:5.1f} s)" if seconds else ""
        logs = {metric: values[epoch] for metric, values in history.items()}
        lines.append(f"epoch {epoch + 1:3d}/{epochs}{timing}  {_describe_logs(logs)}")
    return "\n".join(lines)


def epoch_logger(epochs: int, printer=print):
    """A Keras callback that prints one line per epoch (use it with ``verbose=0``)."""
    import keras

    class EpochLogger(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)
            printer(
                f"epoch {epoch + 1:3d}/{epochs} ({self.seconds[-1]:5.1f} s)  "
                f"{_describe_logs(logs or {})}",
            )

    return EpochLogger()


def plural(count: int, noun: str) -> str:
    """``"1 epoch"``, ``"3 epochs"``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def format_duration(seconds: float) -> str:
    """A duration as a reader would say it: ``"40 s"``, ``"7 min"``, ``"2.5 h"``."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


class TrainingClock:
    """Extrapolates a training run's total time from its first batches or its first epoch.

    Keras reports batches once per graph call (:data:`lib.training.STEPS_PER_EXECUTION`
    batches at a time), and the first call also builds the graph. So the rate
    of a run is measured between the ends of the first and a later call, and:

    - a run of several epochs is estimated when its first epoch (training and
      validation) has ended: that epoch, plus the others at the same cost,
      without the first call's graph building when it could be measured;
    - a single epoch is estimated from its first batches: at the end of its
      second call, or of its first when the second will end the epoch
      (then the graph building is included, and said so).

    :meth:`batch_end` and :meth:`epoch_end` return ``None`` until one of them
    can say something, then its one line once. Pure bookkeeping on the times
    it is given, so it can be tested.
    """

    def __init__(self, epochs: int, steps: int | None, start: float):
        self.epochs, self.steps, self.start = epochs, steps, start
        self.calls: list[tuple[float, int]] = []  # (time, batches done) at each call's end
        self.said = False

    def _rate(self) -> float | None:
        """Seconds per batch, graph building excluded (needs two calls)."""
        if len(self.calls) < 2:
            return None
        (first_time, first_steps), (time_, steps) = self.calls[0], self.calls[-1]
        return (time_ - first_time) / (steps - first_steps) if steps > first_steps else None

    def batch_end(self, now: float, steps_done: int) -> str | None:
        """After a graph call of the first epoch: a single epoch's estimate, once."""
        self.calls.append((now, steps_done))
        if self.said or self.epochs != 1 or not self.steps or steps_done >= self.steps:
            return None
        rate = self._rate()
        if rate is not None:
            total = now - self.start + rate * (self.steps - steps_done)
            how = "timed from the first batches"
        elif len(self.calls) == 1 and self.steps - steps_done <= steps_done:
            total = (now - self.start) * self.steps / steps_done
            how = f"timed from the first {steps_done} batches, graph building included"
        else:
            return None
        return self._say(total, how)

    def epoch_end(self, now: float) -> str | None:
        """After the first epoch of several: the whole run's estimate, once."""
        if self.said or self.epochs < 2:
            return None
        first_epoch = now - self.start
        rate = self._rate()
        building = 0.0
        if rate is not None:
            first_time, first_steps = self.calls[0]
            building = max(0.0, first_time - self.start - rate * first_steps)
        total = first_epoch + (self.epochs - 1) * (first_epoch - building)
        return self._say(total, "timed from the first epoch")

    def _say(self, total: float, how: str) -> str:
        self.said = True
        epochs = plural(self.epochs, "epoch")
        return f"Expected: about {format_duration(total)} for {epochs} on this runtime ({how})"


def time_estimator(epochs: int, printer=print):
    """A Keras callback that prints, once, how long the whole run should take
    (see :class:`TrainingClock`)."""
    import keras

    class TimeEstimator(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            steps = (self.params or {}).get("steps")
            self.clock = TrainingClock(epochs, steps, time.perf_counter())
            self.epoch = 0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if self.epoch == 0:
                self._print(self.clock.batch_end(time.perf_counter(), batch + 1))

        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                self._print(self.clock.epoch_end(time.perf_counter()))

        def _print(self, line):
            if line:
                printer(line)

    return TimeEstimator()

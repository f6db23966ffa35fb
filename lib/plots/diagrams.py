"""Diagrams of the arithmetic: convolution (chapter 1), pooling and receptive fields (chapter 2).

Number grids drawn cell by cell, with the windows an operation reads framed
in colour, and small images of what a kernel or a pooling layer produces.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from lib import convolution
from lib.plots.style import WINDOW_COLOURS, finish

CELL_INCHES = 0.42  # side of one cell of a number grid
PAD_FACE = "0.88"  # background of zero-padding cells


# ---------------------------------------------------------------------------
# Number grids
# ---------------------------------------------------------------------------


def _format(value) -> str:
    """A number as a cell shows it: integers plainly, simple fractions as such (-1/8)."""
    value = float(value)
    if value == round(value):
        return f"{value:.0f}"
    fraction = Fraction(value).limit_denominator(16)
    if abs(value) < 1 and abs(float(fraction) - value) < 1e-9:
        return f"{fraction.numerator}/{fraction.denominator}"
    return f"{value:.2g}"


def _number_grid(ax, values, *, title: str = "", shaded=None, bold=None) -> None:
    """Draw a 2-D array as a table of numbers, one cell per value.

    ``shaded`` and ``bold`` are optional boolean masks of the same shape: shaded
    cells (zero padding) get a grey background and grey text, bold cells a bold
    number.
    """
    values = np.asarray(values)
    rows, cols = values.shape
    shaded = np.zeros(values.shape, bool) if shaded is None else np.asarray(shaded)
    bold = np.zeros(values.shape, bool) if bold is None else np.asarray(bold)
    for r in range(rows):
        for c in range(cols):
            face = PAD_FACE if shaded[r, c] else "white"
            ax.add_patch(Rectangle((c, r), 1, 1, facecolor=face, edgecolor="0.55", lw=0.8))
            ax.text(
                c + 0.5,
                r + 0.5,
                _format(values[r, c]),
                ha="center",
                va="center",
                fontsize=11,
                color="0.45" if shaded[r, c] else "black",
                fontweight="bold" if bold[r, c] else "normal",
            )
    ax.set_xlim(0, cols)
    ax.set_ylim(rows, 0)  # row 0 at the top, as in a matrix
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=11)


def _outline(ax, row, col, size, colour, *, fill: bool = True, lw: float = 3.0) -> None:
    """Frame a ``size`` x ``size`` block of a grid whose top-left cell is (row, col)."""
    rows, cols = (size, size) if np.isscalar(size) else size
    if fill:
        ax.add_patch(Rectangle((col, row), cols, rows, facecolor=colour, alpha=0.18, lw=0))
    ax.add_patch(Rectangle((col, row), cols, rows, fill=False, edgecolor=colour, lw=lw))


def _weights_on_window(ax, kernel, top: int, left: int, colour) -> None:
    """Write, in a corner of each cell of the window at (top, left), the kernel weight
    that multiplies it."""
    size = kernel.shape[0]
    for dr in range(size):
        for dc in range(size):
            ax.text(
                left + dc + 0.95,
                top + dr + 0.92,
                f"×{_format(kernel[dr, dc])}",
                ha="right",
                va="bottom",
                fontsize=7,
                color=colour,
            )


def _grid_figure(widths: Sequence[int], height: int, gap: float = 1.2):
    """A figure with one axes per grid, sized so that all grids share one cell size."""
    ratios = []
    for i, width in enumerate(widths):
        ratios.append(width)
        if i < len(widths) - 1:
            ratios.append(gap)  # a narrow spacer axes for the operator symbol
    fig = plt.figure(figsize=(CELL_INCHES * (sum(ratios) + 0.5), CELL_INCHES * (height + 2.2)))
    spec = fig.add_gridspec(1, len(ratios), width_ratios=ratios, wspace=0.05)
    axes = [fig.add_subplot(spec[0, 2 * i]) for i in range(len(widths))]
    spacers = [fig.add_subplot(spec[0, 2 * i + 1]) for i in range(len(widths) - 1)]
    for spacer in spacers:
        spacer.axis("off")
    return fig, axes, spacers


# ---------------------------------------------------------------------------
# Chapter 1: convolution
# ---------------------------------------------------------------------------


def convolution_figure(
    image,
    kernel,
    *,
    windows: Sequence[tuple[int, int]] = ((0, 0),),
    stride: int = 1,
    padding: str = "valid",
    title: str | None = None,
) -> plt.Figure:
    """Input, kernel and output of a cross-correlation, with chosen windows marked.

    ``windows`` lists output cells ``(row, col)``; each one is framed in its own
    colour, together with the input patch it is computed from. The first
    window also shows the kernel weight that multiplies each of its cells.
    Padding cells are shaded grey.
    """
    image, kernel = np.asarray(image), np.asarray(kernel)
    k = kernel.shape[0]
    padded = convolution.pad2d(image, k, stride, padding)
    output = convolution.cross_correlate2d(image, kernel, stride, padding)
    top = convolution.padding_amounts(image.shape[0], k, stride, padding)[0]
    left = convolution.padding_amounts(image.shape[1], k, stride, padding)[0]

    fig, (ax_in, ax_k, ax_out), (op1, op2) = _grid_figure(
        [padded.shape[1], k, output.shape[1]], padded.shape[0]
    )
    # The zeros added around the image, which may be lopsided: with a stride,
    # "same" padding can add zeros at the bottom and right only.
    shaded = np.ones(padded.shape, bool)
    shaded[top : top + image.shape[0], left : left + image.shape[1]] = False
    size = f"input {image.shape[0]}x{image.shape[1]}"
    if shaded.any():
        size += f", zero-padded to {padded.shape[0]}x{padded.shape[1]}"
    _number_grid(ax_in, padded, title=size, shaded=shaded)
    _number_grid(ax_k, kernel, title=f"kernel {k}x{k}")
    _number_grid(
        ax_out,
        output,
        title=f"output {output.shape[0]}x{output.shape[1]}",
    )
    for i, (row, col) in enumerate(windows):
        colour = WINDOW_COLOURS[i % len(WINDOW_COLOURS)]
        _outline(ax_in, row * stride, col * stride, k, colour)
        _outline(ax_out, row, col, 1, colour)
        if i == 0:
            _weights_on_window(ax_in, kernel, row * stride, col * stride, colour)
    op1.text(0.5, 0.5, "⋆", ha="center", va="center", fontsize=22)
    op2.text(0.5, 0.5, "=", ha="center", va="center", fontsize=22)
    extra = f", stride {stride}" if stride != 1 else ""
    fig.suptitle(title or f"Cross-correlation, padding '{padding}'{extra}", fontsize=12)
    return finish(fig)


def kernel_output_figure(
    image, kernel, *, stride: int = 1, padding: str = "valid", name: str = "kernel"
) -> plt.Figure:
    """A 3x3 kernel next to the image it produces from ``image``, with the output size.

    The output is shown in grey between its 1st and 99th percentiles, so that
    a few extreme values do not wash the rest out.
    """
    kernel = np.asarray(kernel, dtype=float)
    output = convolution.cross_correlate2d(image, kernel, stride, padding)
    low, high = np.percentile(output, [1, 99])
    fig, (ax_k, ax_out) = plt.subplots(
        1, 2, figsize=(5.6, 3.3), width_ratios=[1, 1.9], layout="constrained"
    )
    _number_grid(ax_k, kernel, title=f"kernel: {name}")
    ax_out.imshow(output, cmap="gray", vmin=low, vmax=high if high > low else low + 1)
    ax_out.set_title(
        f"output {output.shape[0]}x{output.shape[1]}\n"
        f"(input {image.shape[0]}x{image.shape[1]}, stride {stride}, '{padding}')",
        fontsize=11,
    )
    ax_out.axis("off")
    return finish(fig)


# ---------------------------------------------------------------------------
# Chapter 2: pooling
# ---------------------------------------------------------------------------


def max_pool_figure(x, size: int = 2, *, title: str | None = None) -> plt.Figure:
    """A feature map, its ``size`` x ``size`` blocks in colours, and the max of each block.

    The winning value of each block is printed in bold in the input.
    """
    x = np.asarray(x)
    pooled = convolution.max_pool2d(x, size)
    fig, (ax_in, ax_out), (op,) = _grid_figure([x.shape[1], pooled.shape[1]], x.shape[0], 2.0)
    # the winner of each block, printed in bold
    winners = np.zeros(x.shape, bool)
    for r in range(pooled.shape[0]):
        for c in range(pooled.shape[1]):
            block = x[r * size : (r + 1) * size, c * size : (c + 1) * size]
            br, bc = np.unravel_index(np.argmax(block), block.shape)
            winners[r * size + br, c * size + bc] = True
    _number_grid(ax_in, x, title=f"feature map {x.shape[0]}x{x.shape[1]}", bold=winners)
    _number_grid(ax_out, pooled, title=f"max-pooled {pooled.shape[0]}x{pooled.shape[1]}")
    for r in range(pooled.shape[0]):
        for c in range(pooled.shape[1]):
            colour = WINDOW_COLOURS[(r * pooled.shape[1] + c) % len(WINDOW_COLOURS)]
            _outline(ax_in, r * size, c * size, size, colour, lw=2.5)
            _outline(ax_out, r, c, 1, colour, lw=2.5)
    op.text(0.5, 0.5, f"max\n{size}x{size}\n→", ha="center", va="center", fontsize=13)
    fig.suptitle(title or f"Max pooling, {size}x{size} windows, stride {size}", fontsize=12)
    return finish(fig)


def receptive_field_figure(
    digit, windows: dict[str, int], *, centre: tuple[int, int], title: str | None = None
) -> plt.Figure:
    """Nested input windows seen by one value of successive layers, drawn on a digit.

    ``windows`` maps a layer's name to the side of its receptive field; all
    windows are centred on the pixel ``centre``. The right panel enlarges the
    largest window: that is all one value of the last layer ever sees.
    """
    digit = np.asarray(digit)
    fig, (ax, ax_zoom) = plt.subplots(1, 2, figsize=(8, 4.3), gridspec_kw={"width_ratios": [1, 1]})
    ax.imshow(digit, cmap="gray_r")
    # faint pixel grid, so that the windows' sizes can be counted
    ax.set_xticks(np.arange(-0.5, digit.shape[1], 1), minor=True)
    ax.set_yticks(np.arange(-0.5, digit.shape[0], 1), minor=True)
    ax.grid(which="minor", color="0.8", lw=0.4)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    for i, (name, side) in enumerate(windows.items()):
        colour = WINDOW_COLOURS[i % len(WINDOW_COLOURS)]
        top, left = centre[0] - (side - 1) // 2, centre[1] - (side - 1) // 2
        ax.add_patch(
            Rectangle((left - 0.5, top - 0.5), side, side, fill=False, edgecolor=colour, lw=2.5)
        )
        ax.plot([], [], color=colour, lw=2.5, label=f"{name}: {side}x{side}")
    ax.legend(loc="upper left", fontsize=9, framealpha=0.9)
    ax.set_title(f"digit {digit.shape[0]}x{digit.shape[1]}", fontsize=11)

    name, side = list(windows.items())[-1]
    top, left = centre[0] - (side - 1) // 2, centre[1] - (side - 1) // 2
    ax_zoom.imshow(digit[top : top + side, left : left + side], cmap="gray_r")
    ax_zoom.set_title(f"all one {name} value sees ({side}x{side})", fontsize=11)
    ax_zoom.set_xticks([])
    ax_zoom.set_yticks([])
    for spine in ax_zoom.spines.values():
        spine.set_edgecolor(WINDOW_COLOURS[(len(windows) - 1) % len(WINDOW_COLOURS)])
        spine.set_linewidth(3)
    fig.suptitle(title or "Receptive field of one output value", fontsize=12)
    fig.tight_layout()
    return finish(fig)

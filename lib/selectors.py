"""Interactive selectors that work both in a live kernel and on a static web page.

A selector shows the picture that ``render(**values)`` draws for the options
a reader picks::

    selector(show, kernel=["edge", "blur"], stride=[1, 2])

It displays in two ways at once, and the viewer keeps the one it can use:

* in Jupyter, Colab or Binder, an ipywidgets control (drop-down lists or
  toggle buttons) that redraws the picture whenever an option changes;
* on the published book's HTML page, where no Python runs and widget
  callbacks would do nothing, a static version: every combination is drawn
  in advance into a small PNG embedded in the page, and a few lines of inline
  JavaScript (nothing fetched from the internet; it works from a file on
  disk) show the picture that matches the ``<select>`` lists.

An option whose value is an ipywidgets control (a text box, say) is
*live-only*: picking it passes the control's current value to ``render``
and redraws whenever that value changes. The static page cannot offer it
and says so.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import itertools
import math
from collections.abc import Callable, Mapping, Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import PIL.Image
from matplotlib.figure import Figure

MAX_COMBINATIONS = 64  # pictures a static page carries before it grows too heavy
DEFAULT_DPI = 60

_counter = itertools.count(1)  # makes the HTML ids of selectors on one page unique


class _Choice:
    """One named choice: its option labels and values, split into static and live-only."""

    def __init__(self, name: str, options):
        if isinstance(options, Mapping):
            labels, values = [str(label) for label in options], list(options.values())
        elif isinstance(options, Sequence) and not isinstance(options, str):
            labels, values = [str(value) for value in options], list(options)
        else:
            raise TypeError(f"Choice {name!r} must be a list of values or a dict label -> value.")
        if not labels:
            raise ValueError(f"Choice {name!r} has no options.")
        if len(set(labels)) != len(labels):
            raise ValueError(f"Choice {name!r} has repeated option labels: {labels}.")
        self.name, self.labels, self.values = name, labels, values
        self.live_only = [isinstance(value, widgets.ValueWidget) for value in values]
        self.static = [i for i, live in enumerate(self.live_only) if not live]
        if not self.static:
            raise ValueError(f"Choice {name!r} needs at least one option that is not a widget.")

    def index(self, label) -> int:
        """Position of an option given by its label, with a helpful error if it is unknown."""
        label = str(label)
        if label not in self.labels:
            valid = ", ".join(repr(label) for label in self.labels)
            raise ValueError(f"{label!r} is not an option of {self.name!r}; valid ones: {valid}.")
        return self.labels.index(label)

    def value(self, i: int):
        """The value ``render`` receives for option ``i`` (a live-only widget's current value)."""
        return self.values[i].value if self.live_only[i] else self.values[i]


def to_png(picture, dpi: int = DEFAULT_DPI) -> bytes:
    """PNG bytes of a matplotlib Figure (closed afterwards) or of an image array.

    The PNG is stored as compactly as it can be without losing anything: in
    grey levels when the picture has no colour (about half the size), and
    without an alpha channel when it is opaque. A static page embeds dozens.
    """
    buffer = io.BytesIO()
    if isinstance(picture, Figure):
        picture.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
        plt.close(picture)
    elif isinstance(picture, np.ndarray):
        plt.imsave(buffer, picture, cmap="gray" if picture.ndim == 2 else None, format="png")
    else:
        raise TypeError(f"render must return a Figure or an image array, not {picture!r}.")
    image = PIL.Image.open(buffer)
    pixels = np.asarray(image.convert("RGBA"))
    if (pixels[..., 3] == 255).all():
        grey = (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all()
        image = image.convert("L" if grey else "RGB")
    compact = io.BytesIO()
    image.save(compact, format="PNG", optimize=True)
    return compact.getvalue()


_SCRIPT = """<script>
(function () {
  var root = document.getElementById("%s");
  var selects = root.querySelectorAll("select");
  function show() {
    var key = Array.prototype.map.call(selects, function (s) { return s.value; }).join(",");
    root.querySelectorAll("img[data-key]").forEach(function (img) {
      img.style.display = img.getAttribute("data-key") === key ? "" : "none";
    });
  }
  selects.forEach(function (s) { s.addEventListener("change", show); });
  show();
})();
</script>"""


class Selector:
    """A picture chosen by a few options; see the module docstring and :func:`selector`."""

    def __init__(
        self,
        render: Callable,
        choices: Mapping[str, object],
        *,
        defaults: Mapping[str, object] | None = None,
        dpi: int = DEFAULT_DPI,
        max_combinations: int = MAX_COMBINATIONS,
    ):
        if not choices:
            raise ValueError("A selector needs at least one choice, e.g. kernel=['edge', 'blur'].")
        self.render, self.dpi = render, dpi
        self.choices = [_Choice(name, options) for name, options in choices.items()]
        count = math.prod(len(choice.static) for choice in self.choices)
        if count > max_combinations:
            sizes = " x ".join(str(len(choice.static)) for choice in self.choices)
            raise ValueError(
                f"{sizes} = {count} combinations is more than the {max_combinations} pictures "
                "a static page can carry; offer fewer options."
            )
        self.default = self._default_indices(defaults or {})
        # Draw every static combination once; the live widget reuses these pictures.
        self._pictures: dict[tuple[int, ...], bytes] = {}
        for key in itertools.product(*(choice.static for choice in self.choices)):
            try:
                self._pictures[key] = to_png(self.render(**self._values(key)), dpi)
            except Exception as error:
                settings = self._alt(key).removeprefix("Output for ")
                raise RuntimeError(
                    f"Drawing the picture for {settings} failed: {type(error).__name__}: {error}"
                ) from error
        self.html = self._static_html()
        self._build_widget()

    # -- shared ------------------------------------------------------------

    def _default_indices(self, defaults: Mapping[str, object]) -> tuple[int, ...]:
        names = [choice.name for choice in self.choices]
        unknown = [name for name in defaults if name not in names]
        if unknown:
            raise ValueError(f"No choice named {unknown[0]!r}; the choices are {', '.join(names)}.")
        key = []
        for choice in self.choices:
            if choice.name not in defaults:
                key.append(choice.static[0])
                continue
            i = choice.index(defaults[choice.name])
            if choice.live_only[i]:
                raise ValueError(f"The default of {choice.name!r} cannot be a live-only option.")
            key.append(i)
        return tuple(key)

    def _values(self, key: tuple[int, ...]) -> dict:
        return {choice.name: choice.value(i) for choice, i in zip(self.choices, key, strict=True)}

    def _alt(self, key: tuple[int, ...]) -> str:
        settings = ", ".join(
            f"{choice.name}={choice.labels[i]}" for choice, i in zip(self.choices, key, strict=True)
        )
        return f"Output for {settings}"

    # -- static HTML for pages without a kernel ----------------------------

    def _static_html(self) -> str:
        digest = hashlib.sha1(b"".join(self._pictures.values())).hexdigest()[:8]
        uid = f"convnets-selector-{digest}-{next(_counter)}"
        parts = [f'<div class="convnets-selector" id="{uid}">', "<div>"]
        for choice, chosen in zip(self.choices, self.default, strict=True):
            options = "".join(
                f'<option value="{i}"{" selected" if i == chosen else ""}>'
                f"{html.escape(choice.labels[i])}</option>"
                for i in choice.static
            )
            name = html.escape(choice.name)
            parts.append(f'<label style="margin-right:1em">{name} <select>{options}</select>')
            parts.append("</label>")
        parts.append("</div>")
        for key, png in self._pictures.items():
            data = base64.b64encode(png).decode("ascii")
            hidden = "" if key == self.default else ' style="display:none"'
            parts.append(
                f'<img data-key="{",".join(map(str, key))}" alt="{html.escape(self._alt(key))}"'
                f'{hidden} src="data:image/png;base64,{data}">'
            )
        live = [
            f"{choice.name}={label}"
            for choice in self.choices
            for label, is_live in zip(choice.labels, choice.live_only, strict=True)
            if is_live
        ]
        if live:
            parts.append(
                f"<p><small>Run the notebook to try {html.escape(', '.join(live))}: "
                "that option needs a live Python kernel.</small></p>"
            )
        parts.append(_SCRIPT % uid)
        parts.append("</div>")
        return "\n".join(parts)

    # -- live ipywidgets control -------------------------------------------

    def _build_widget(self) -> None:
        self.controls: dict[str, widgets.ValueWidget] = {}
        for choice, chosen in zip(self.choices, self.default, strict=True):
            kind = widgets.ToggleButtons if len(choice.labels) <= 3 else widgets.Dropdown
            control = kind(
                options=choice.labels,
                value=choice.labels[chosen],
                description=choice.name,
                style={"description_width": "initial"},
            )
            control.observe(self._redraw, names="value")
            self.controls[choice.name] = control
        live_inputs = []
        for choice in self.choices:
            for value, is_live in zip(choice.values, choice.live_only, strict=True):
                if is_live:
                    value.observe(self._redraw, names="value")
                    live_inputs.append(value)
        self.image = widgets.Image(value=self._pictures[self.default], format="png")
        self.message = widgets.HTML("")
        self.widget = widgets.VBox(
            [widgets.HBox(list(self.controls.values())), *live_inputs, self.image, self.message]
        )

    def _redraw(self, change=None) -> None:
        """Show the picture for the options now chosen (drawing it if it is live-only)."""
        key = tuple(
            choice.labels.index(self.controls[choice.name].value) for choice in self.choices
        )
        if key not in self._pictures:
            try:
                self.image.value = to_png(self.render(**self._values(key)), self.dpi)
            except Exception as error:  # a reader's typo must not kill the control
                self.message.value = f"<b>Cannot draw this:</b> {html.escape(str(error))}"
                return
        else:
            self.image.value = self._pictures[key]
        self.message.value = ""

    # -- display -----------------------------------------------------------

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        bundle = {key: value for key, value in self.widget._repr_mimebundle_().items()}
        bundle["text/html"] = self.html
        bundle["text/plain"] = repr(self)
        return bundle

    def __repr__(self) -> str:
        sizes = ", ".join(f"{choice.name} ({len(choice.labels)})" for choice in self.choices)
        return f"<Selector over {sizes}: {len(self._pictures)} pre-rendered pictures>"


def selector(
    render: Callable,
    /,
    *,
    defaults: Mapping[str, object] | None = None,
    dpi: int = DEFAULT_DPI,
    max_combinations: int = MAX_COMBINATIONS,
    **choices,
) -> Selector:
    """A selector over ``choices`` showing ``render(**values)``; display it in a notebook cell.

    Each keyword is a choice: a list of option values (labelled by ``str``) or
    a dict ``label -> value``; a value that is an ipywidgets control makes a
    live-only option. ``defaults`` maps choice names to the labels shown
    first (otherwise each choice's first option). ``render`` returns a
    matplotlib Figure or an image array; it is called once per combination
    up front, so a static page can carry them all.
    """
    return Selector(render, choices, defaults=defaults, dpi=dpi, max_combinations=max_combinations)

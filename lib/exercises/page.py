"""The HTML of an exercise's feedback, with a check that works on a static page.

A number or a choice that is not answered yet also shows a small form: an
input (or radio buttons) and a *Check* button whose inline script compares
the reader's entry with the value the library computed, and gives the same
hints as :func:`lib.exercises.check`. Nothing is fetched from the internet,
so it works from the published book, from a file on disk, and in a notebook.
"""

from __future__ import annotations

import json

from lib.exercises.core import Choice, Feedback, Number, escape

_STYLE = {
    "unanswered": "border-left:4px solid #999;background:#f6f6f6",
    "right": "border-left:4px solid #2a7d2a;background:#eef8ee",
    "wrong": "border-left:4px solid #b8860b;background:#fdf6e3",
}

# Finds its own container (document.currentScript), so two forms on a page
# never mix up; reports in an aria-live paragraph.
_SCRIPT = """<script>
(function () {
  const box = document.currentScript.closest(".convnets-exercise");
  const out = box.querySelector(".convnets-exercise-feedback");
  const data = box.dataset;
  function say(text) { out.textContent = text; }
  box.querySelector("button").addEventListener("click", function () {
    if (data.kind === "number") {
      const text = box.querySelector("input").value.trim().replace(",", ".");
      const value = Number(text);
      if (text === "" || !Number.isFinite(value)) { say("Type a number first."); return; }
      const close = (a, b) => Math.abs(a - b) <= Number(data.tolerance) + 1e-9;
      if (close(value, Number(data.answer))) { say("Right!"); return; }
      for (const [wrong, hint] of JSON.parse(data.mistakes)) {
        if (close(value, wrong)) { say("Not yet: " + hint); return; }
      }
      say("Not yet: " + data.hint);
    } else {
      const picked = box.querySelector("input:checked");
      if (!picked) { say("Pick one choice first."); return; }
      const why = picked.dataset.explanation;
      say(picked.value === data.answer ? "Right! " + why : "Not yet: " + why);
    }
  });
})();
</script>"""


def _number_form(exercise: Number) -> tuple[str, str]:
    attributes = (
        f'data-kind="number" data-answer="{exercise.right_value()!r}" '
        f'data-tolerance="{exercise.tolerance!r}" '
        f'data-mistakes="{escape(json.dumps(exercise.known_mistakes()))}" '
        f'data-hint="{escape(exercise.hint)}"'
    )
    form = (
        '<label>Your answer <input type="text" inputmode="decimal" size="10"></label> '
        '<button type="button">Check</button>'
    )
    return attributes, form


def _choice_form(exercise: Choice) -> tuple[str, str]:
    attributes = f'data-kind="choice" data-answer="{escape(exercise.right)}"'
    name = f"convnets-{exercise.id}"
    options = "".join(
        f'<div><label><input type="radio" name="{escape(name)}" value="{escape(letter)}" '
        f'data-explanation="{escape(explanation)}"> {escape(letter)}) {escape(text)}'
        "</label></div>"
        for letter, (text, explanation) in exercise.choices.items()
    )
    return attributes, options + '<button type="button">Check</button>'


def feedback_html(feedback: Feedback) -> str:
    """The feedback as a coloured box; unanswered numbers and choices add the form."""
    exercise = feedback.exercise
    first_line, *rest = feedback.message.split("\n")
    parts = [f"<p style='margin:0'>{escape(first_line)}</p>"]
    attributes, form = "", ""
    if feedback.status == "unanswered" and isinstance(exercise, Number | Choice):
        maker = _number_form if isinstance(exercise, Number) else _choice_form
        attributes, form = maker(exercise)
        parts = [f"<p style='margin:0'>{escape(first_line)} Or check it here:</p>"]
        parts += [f"<div style='margin:0.4em 0'>{form}</div>"]
        parts += ['<p class="convnets-exercise-feedback" aria-live="polite"></p>', _SCRIPT]
    elif rest:
        parts += [f"<pre style='margin:0'>{escape(chr(10).join(rest))}</pre>"]
    return (
        f'<div class="convnets-exercise" data-exercise="{escape(exercise.id)}" {attributes} '
        f'style="{_STYLE[feedback.status]};padding:0.5em 0.8em;margin:0.5em 0">'
        + "\n".join(parts)
        + "</div>"
    )

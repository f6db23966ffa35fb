"""Every exercise has a check and a solution; every solution passes; wrong answers get hints.

The chapters are read as text, not executed: an exercise is a
``{exercise}`` directive, followed by the code cell where the reader answers
(it calls ``exercises.check("ID", NAME)``) and by a ``{solution}`` whose
Python block defines ``NAME``. The solution runs after the chapter's import
cells, exactly as a reader would paste it into the answer cell.

Wrong answers: every known mistake and a value nobody expects for a number,
every other letter for a choice, and for code the broken answers in
``tests/wrong_answers/`` (one module per chapter topic, ``WRONG = {id: [...]}``).
"""

from __future__ import annotations

import ast
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

import jupytext
import numpy as np
import pytest

import lib  # noqa: F401  (first: it silences TensorFlow's start-up banner)
from lib.exercises import EXERCISES, Choice, Code, Number, check

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "book").glob("0[1-8]_*.md"))
EXERCISE = re.compile(r"^(:::+)\{exercise\}[^\n]*\n:label: (\S+)\n(.*?)^\1$", re.M | re.S)
LISTED_CHOICE = re.compile(r"^- (\w)\) (.*?)(?=^- \w\) |\Z)", re.M | re.S)
SOLUTION = re.compile(r"^(:::+)\{solution\} (\S+)\n(.*?)^\1$", re.M | re.S)
PYTHON = re.compile(r"^```python\n(.*?)^```$", re.M | re.S)
CHECK_CALL = re.compile(r'exercises\.check\("([\w.]+)", (\w+)\)')


@dataclass
class Item:
    chapter: str
    label: str
    question: str  # the exercise's text
    exercise_id: str
    name: str  # the variable the answer cell passes to the check
    answer_cell: str
    solution: str  # the solution's Python code


def events_of(chapter: Path) -> list[tuple[str, str, str]]:
    """The chapter as ("exercise", label, ""), ("code", "", source), ("solution", label, body)."""
    events = []
    for cell in jupytext.read(chapter).cells:
        if cell.cell_type == "code":
            events.append(("code", "", cell.source))
            continue
        found = [(m.start(), "exercise", m[2], m[3]) for m in EXERCISE.finditer(cell.source)]
        found += [(m.start(), "solution", m[2], m[3]) for m in SOLUTION.finditer(cell.source)]
        events += [event[1:] for event in sorted(found)]
    return events


def imports_of(chapter: Path) -> str:
    """The chapter's code cells made only of imports, joined: the solutions' context."""
    cells = [source for kind, _, source in events_of(chapter) if kind == "code"]
    only_imports = [
        cell
        for cell in cells
        if all(isinstance(node, ast.Import | ast.ImportFrom) for node in ast.parse(cell).body)
    ]
    return "\n".join(only_imports)


def items_of(chapter: Path) -> tuple[list[Item], list[str]]:
    """The chapter's exercises in order, and the problems with their structure."""
    events = events_of(chapter)
    found, problems = [], []
    labels = [label for kind, label, _ in events if kind == "exercise"]
    for position, (kind, label, question) in enumerate(events):
        if kind == "solution" and label not in labels:
            problems.append(f"solution {label}: no exercise of that label")
        if kind != "exercise":
            continue
        after = events[position + 1 :]
        upto = next((i for i, event in enumerate(after) if event[0] == "exercise"), len(after))
        section = after[:upto]
        cell = next((source for kind, _, source in section if kind == "code"), "")
        call = CHECK_CALL.search(cell)
        solution = next((body for kind, name, body in section if kind == "solution"), None)
        solution_labels = [name for kind, name, _ in section if kind == "solution"]
        if not call:
            problems.append(f"{label}: no answer cell calling exercises.check")
        elif solution_labels != [label]:
            problems.append(f"{label}: not followed by its one solution ({solution_labels})")
        elif not PYTHON.search(solution):
            problems.append(f"{label}: its solution has no Python block to check")
        else:
            code = "\n".join(PYTHON.findall(solution))
            found.append(Item(chapter.name, label, question, call[1], call[2], cell, code))
    return found, problems


ITEMS = [item for chapter in CHAPTERS for item in items_of(chapter)[0]]


def wrong_answers() -> dict[str, list]:
    """Broken code answers, from every module of tests/wrong_answers/."""
    answers: dict[str, list] = {}
    for path in sorted((ROOT / "tests" / "wrong_answers").glob("*.py")):
        spec = importlib.util.spec_from_file_location(f"wrong_answers_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        answers.update(module.WRONG)
    return answers


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_each_teaching_chapter_ends_with_three_to_five_checked_exercises(chapter):
    found, problems = items_of(chapter)
    assert not problems
    assert 3 <= len(found) <= 5, f"{len(found)} exercises"
    assert all(item.exercise_id in EXERCISES for item in found)


def test_every_registered_exercise_is_in_a_chapter():
    used = [item.exercise_id for item in ITEMS]
    assert sorted(used) == sorted(EXERCISES), "exercises used twice or never"


def run_solution(item: Item):
    namespace: dict = {}
    exec(imports_of(ROOT / "book" / item.chapter), namespace)
    exec(item.solution, namespace)
    return namespace[item.name]


@pytest.mark.parametrize("item", ITEMS, ids=lambda item: item.exercise_id)
def test_the_solution_passes_its_check(item):
    feedback = check(item.exercise_id, run_solution(item))
    assert feedback.status == "right", feedback.message


@pytest.mark.parametrize("item", ITEMS, ids=lambda item: item.exercise_id)
def test_the_answer_cell_as_printed_waits_politely(item):
    namespace: dict = {}
    exec(imports_of(ROOT / "book" / item.chapter), namespace)
    body = ast.parse(item.answer_cell).body
    exec(compile(ast.Module(body[:-1], []), "<answer cell>", "exec"), namespace)
    feedback = eval(compile(ast.Expression(body[-1].value), "<check>", "eval"), namespace)
    assert feedback.status == "unanswered"
    assert feedback.message.startswith("Not answered yet")


def wrong_cases(exercise) -> list:
    if isinstance(exercise, Number):
        right = exercise.right_value()
        return [wrong for wrong, _ in exercise.known_mistakes()] + [right + 1000.5]
    if isinstance(exercise, Choice):
        return [letter for letter in exercise.choices if letter != exercise.right]
    return wrong_answers().get(exercise.id, [])


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_a_wrong_answer_gets_a_hint_not_the_answer(exercise_id):
    exercise = EXERCISES[exercise_id]
    cases = wrong_cases(exercise)
    assert cases, f"no wrong answer to try on {exercise_id} (tests/wrong_answers/)"
    for wrong in cases:
        feedback = check(exercise_id, wrong)
        assert feedback.status == "wrong", f"{wrong!r} was accepted"
        assert len(feedback.message) > len("Not yet: ") + 10
        if isinstance(exercise, Number):
            assert f"{exercise.right_value():g}" not in feedback.message


def test_number_hints_name_the_mistake():
    exercise = EXERCISES["convolution.deeper_params"]
    (without_bias, hint), *_ = exercise.known_mistakes()
    assert check("convolution.deeper_params", without_bias).message == f"Not yet: {hint}"
    assert check("convolution.deeper_params", "lots").message.startswith("Not yet: the answer")


def test_code_that_raises_or_forgets_return_gets_a_sentence():
    def raises(image, kernel, stride):
        raise IndexError("out of range")

    def forgets(image, kernel, stride):
        np.zeros(3)

    assert "raised IndexError: out of range" in check("convolution.strided", raises).message
    assert "return statement" in check("convolution.strided", forgets).message
    assert "the function itself" in check("convolution.strided", 3).message


def test_an_unknown_exercise_lists_the_known_ones():
    with pytest.raises(KeyError, match="convolution.output_size"):
        check("convolution.nope", 3)


def test_feedback_html_carries_a_static_check_only_while_unanswered():
    waiting = check("convolution.output_size", ...)._repr_html_()
    assert 'data-kind="number"' in waiting and "<script>" in waiting
    assert "<script>" not in check("convolution.output_size", 3)._repr_html_()
    assert "<script>" not in check("convolution.strided", ...)._repr_html_()


def test_code_exercises_are_all_tried_on_wrong_answers():
    missing = [
        exercise_id
        for exercise_id, exercise in EXERCISES.items()
        if isinstance(exercise, Code) and not wrong_answers().get(exercise_id)
    ]
    assert not missing


@pytest.mark.parametrize(
    "item",
    [item for item in ITEMS if isinstance(EXERCISES.get(item.exercise_id), Choice)],
    ids=lambda item: item.exercise_id,
)
def test_choices_listed_in_a_question_are_the_checkers_choices(item):
    listed = {
        letter: " ".join(text.split()) for letter, text in LISTED_CHOICE.findall(item.question)
    }
    if listed:  # a question may leave its choices to the check's output
        choices = EXERCISES[item.exercise_id].choices
        assert listed == {letter: text for letter, (text, _) in choices.items()}

"""The built book works in a browser, offline.

Headless Chromium (Debian's ``chromium`` package, driven by Playwright: no
browser is downloaded) opens every page of ``_build/html`` from disk with the
network cut off, and checks that no page tries to fetch anything from the
internet, that no script fails, that every image says what it shows, that
every static selector shows the picture of the option a reader picks, and that
every exercise's solution stays hidden until asked for while its static check
answers one wrong and one right entry as the library would.

``make test`` runs after ``make book``; run that first.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

import lib  # noqa: F401  (first: it silences TensorFlow's start-up banner)
from lib.exercises import EXERCISES, Number

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))  # or another Chromium
LOCAL = ("file:", "data:", "blob:", "about:")
FILE_NAME = re.compile(r"\.(png|jpe?g|gif|svg|webp)$|[0-9a-f]{16}", re.IGNORECASE)


@dataclass
class Visit:
    """What one page did in the browser."""

    requests: list[str] = field(default_factory=list)  # internet URLs it tried to reach
    errors: list[str] = field(default_factory=list)  # uncaught exceptions, console errors
    images: list[tuple[str, str | None]] = field(default_factory=list)  # (src, alt)
    selectors: int = 0
    selector_problems: list[str] = field(default_factory=list)
    exercises: int = 0  # static checks tried
    solutions: int = 0
    exercise_problems: list[str] = field(default_factory=list)


def pages() -> list[Path]:
    """Every HTML page of the built book, less the redirect that stands in for index.html."""
    if not (HTML / "index.html").exists():
        pytest.fail(f"No built book in {HTML.relative_to(ROOT)}: run `make book` first.")
    found = []
    for path in sorted(HTML.rglob("*.html")):
        if {"_static", "_sources"} & set(path.relative_to(HTML).parts):
            continue
        if 'http-equiv="Refresh"' in path.read_text()[:2000]:
            continue
        found.append(path)
    return found


def check_selectors(page, visit: Visit) -> None:
    """Pick another option in each list of each selector: its picture must follow."""
    for root in page.locator(".convnets-selector").all():
        visit.selectors += 1
        for select in root.locator("select").all():
            name = select.evaluate("s => s.parentElement.firstChild.textContent.trim()")
            before = root.locator("img:visible").get_attribute("src")
            # by index: Playwright matches a string against option labels too
            select.select_option(index=select.evaluate("s => (s.selectedIndex + 1) % s.length"))
            label = select.evaluate("s => s.options[s.selectedIndex].text")
            shown = root.locator("img:visible")
            problem = None
            if shown.count() != 1:
                problem = f"{shown.count()} pictures shown"
            elif shown.get_attribute("src") == before:
                problem = "the picture did not change"
            elif f"{name}={label}" not in shown.get_attribute("alt"):
                problem = f"the picture shown is {shown.get_attribute('alt')!r}"
            elif not shown.evaluate("img => img.complete && img.naturalWidth > 0"):
                problem = "the new picture does not load"
            if problem:
                visit.selector_problems.append(f"{name}={label}: {problem}")


def entries(exercise) -> tuple[str, str]:
    """A wrong and the right entry for a static check, from the library's own answer."""
    if isinstance(exercise, Number):
        right = exercise.right_value()
        # every digit: 5.30893e+06 is not 5,308,929
        return f"{right + 1000.5:.15g}", f"{right:.15g}"
    wrong = next(letter for letter in exercise.choices if letter != exercise.right)
    return wrong, exercise.right


def answer(box, entry: str) -> str:
    """Type (or pick) ``entry`` in a static check, press Check, return what it says."""
    if box.get_attribute("data-kind") == "number":
        box.locator("input").fill(entry)
    else:
        box.locator(f'input[value="{entry}"]').check()
    box.locator("button").click()
    return box.locator(".convnets-exercise-feedback").inner_text()


def check_exercises(page, visit: Visit) -> None:
    """Solutions start hidden and open on a click; static checks judge as the library does."""
    for solution in page.locator(".solution.dropdown").all():
        visit.solutions += 1
        content = solution.locator("section").first
        if content.is_visible():
            visit.exercise_problems.append(f"{solution.get_attribute('id')} is not hidden")
        solution.locator(".toggle-button").click()  # the title's middle is a link
        try:
            content.wait_for(state="visible", timeout=2000)
        except PlaywrightTimeout:
            visit.exercise_problems.append(f"{solution.get_attribute('id')} does not open")
    for box in page.locator(".convnets-exercise[data-kind]").all():
        visit.exercises += 1
        exercise_id = box.get_attribute("data-exercise")
        wrong, right = entries(EXERCISES[exercise_id])
        said = answer(box, wrong)
        gives_away = box.get_attribute("data-kind") == "number" and right in said
        if not said.startswith("Not yet: ") or gives_away:
            visit.exercise_problems.append(f"{exercise_id}: {wrong} gets {said!r}")
        said = answer(box, right)
        if not said.startswith("Right!"):
            visit.exercise_problems.append(f"{exercise_id}: {right} gets {said!r}")


def refuse_the_internet(route) -> None:
    """Serve files from disk, refuse anything else: the published book must work offline."""
    if route.request.url.startswith(LOCAL):
        route.continue_()
    else:
        route.abort()


def watch(page, visit: Visit) -> None:
    """Record on ``visit`` what ``page`` tries to fetch and every error it reports."""

    def on_request(request):
        if not request.url.startswith(LOCAL):
            visit.requests.append(request.url)

    def on_console(message):
        if message.type == "error":
            visit.errors.append(message.text)

    page.on("request", on_request)
    page.on("websocket", lambda socket: visit.requests.append(socket.url))
    page.on("pageerror", lambda error: visit.errors.append(str(error)))
    page.on("console", on_console)


@pytest.fixture(scope="module")
def visits() -> dict[str, Visit]:
    """Open every page once, offline, and record what happened."""
    paths = pages()
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs it (apt-get install chromium)")
    results = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        context = browser.new_context()
        context.route("**/*", refuse_the_internet)
        for path in paths:
            visit = results[str(path.relative_to(HTML))] = Visit()
            page = context.new_page()
            watch(page, visit)
            page.goto(path.as_uri(), wait_until="networkidle")
            visit.images = page.eval_on_selector_all(
                "img", "images => images.map(i => [i.getAttribute('src'), i.getAttribute('alt')])"
            )
            check_selectors(page, visit)
            check_exercises(page, visit)
            page.close()
        browser.close()
    return results


def report(visits: dict[str, Visit], problems) -> str:
    return "\n".join(
        f"{page}: {problem}" for page, visit in visits.items() for problem in problems(visit)
    )


def test_pages_fetch_nothing_from_the_internet(visits):
    assert not report(visits, lambda visit: visit.requests)


def test_pages_run_without_javascript_errors(visits):
    assert not report(visits, lambda visit: visit.errors)


def alt_problems(visit: Visit) -> list[str]:
    problems = []
    for src, alt in visit.images:
        src = src if not src.startswith("data:") else src[:40] + "..."
        if not (alt or "").strip():
            problems.append(f"<img src={src!r}> has no alt text")
        elif FILE_NAME.search(alt):
            problems.append(f"<img src={src!r}> has a file name for alt text: {alt!r}")
    return problems


def test_every_image_says_what_it_shows(visits):
    assert not report(visits, alt_problems)


def test_static_selectors_show_the_picked_option(visits):
    assert sum(visit.selectors for visit in visits.values()) > 0, "no selector in the book"
    assert not report(visits, lambda visit: visit.selector_problems)


def test_exercises_hide_their_solutions_and_check_on_the_static_page(visits):
    assert sum(visit.exercises for visit in visits.values()) > 0, "no static check in the book"
    assert sum(visit.solutions for visit in visits.values()) > 0, "no solution in the book"
    assert not report(visits, lambda visit: visit.exercise_problems)

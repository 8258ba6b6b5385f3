"""The course API a lesson is written against: ``Lesson(title, exercises=N)``, ``check(k, feedback)``, ``summary()``."""

from __future__ import annotations

import numpy as np
import pytest

import jacobnet as jn
from jacobnet.course import Lesson, LessonSummary, exercises, feedback
from jacobnet.course.feedback import Feedback

TITLE = "4 · Build backpropagation yourself"
A = np.array([[1.0, 2.0, 0.5], [3.0, 4.0, 0.25]])  # (2, 3)


def right() -> Feedback:
    return feedback.check_matrix(A, A, name="J")


def transposed() -> Feedback:
    return feedback.check_matrix(A.T, A, name="J")


def blank() -> Feedback:
    return feedback.check_matrix(..., A, name="J")


def test_the_course_api_imports_as_the_lessons_write_it():
    from jacobnet.course import Lesson as L2

    assert L2 is Lesson and callable(exercises.check_layer_jacobian) and callable(feedback.check_number)
    assert jn.course.Lesson is Lesson


def test_check_records_and_returns_the_feedback_so_the_cell_shows_it():
    lesson = Lesson(TITLE, exercises=3)
    fb = right()
    assert lesson.check(1, fb) is fb
    assert str(lesson.summary()).startswith("Lesson 4: 1 of 3 exercises done")


def test_the_summary_names_every_exercise_not_done():
    lesson = Lesson(TITLE, exercises=3)
    lesson.check(1, right())
    lesson.check(2, blank())
    lesson.check(3, transposed())
    assert str(lesson.summary()) == (
        "Lesson 4: 1 of 3 exercises done; exercise 2: not answered yet; "
        "exercise 3: not right yet (your answer is the transpose)"
    )


def test_the_brief_s_example_summary():
    lesson = Lesson(TITLE, exercises=3)
    for k, fb in [(1, right()), (2, blank()), (3, right())]:
        lesson.check(k, fb)
    summary = lesson.summary()
    assert str(summary) == repr(summary) == "Lesson 4: 2 of 3 exercises done; exercise 2: not answered yet"
    assert (summary.done, summary.total, summary.complete, summary.open) == (2, 3, False, ((2, "not answered yet"),))


def test_an_exercise_never_checked_says_to_run_its_cell():
    lesson = Lesson(TITLE, exercises=2)
    lesson.check(2, right())
    assert str(lesson.summary()) == "Lesson 4: 1 of 2 exercises done; exercise 1: not checked — run its cell"


def test_all_done():
    lesson = Lesson(TITLE, exercises=3)
    for k in (1, 2, 3):
        lesson.check(k, right())
    assert str(lesson.summary()) == "Lesson 4: all 3 exercises done ✓" and lesson.summary().complete
    one = Lesson("9 · Blocks", exercises=1)
    one.check(1, right())
    assert str(one.summary()) == "Lesson 9: all 1 exercise done ✓"


def test_a_second_check_of_the_same_exercise_replaces_the_first():
    lesson = Lesson(TITLE, exercises=2)
    lesson.check(1, right())
    lesson.check(1, transposed())
    assert "exercise 1: not right yet (your answer is the transpose)" in str(lesson.summary())
    lesson.check(1, right())
    assert "exercise 1" not in str(lesson.summary())


def test_a_blank_lesson_summary_counts_zero_and_never_raises():
    lesson = Lesson(TITLE, exercises=3)
    for k in (1, 2, 3):
        lesson.check(k, exercises.check_layer_jacobian(..., jn.Tanh(), np.zeros(2)))
    text = str(lesson.summary())
    assert text.startswith("Lesson 4: 0 of 3 exercises done") and text.count("not answered yet") == 3
    assert str(Lesson(TITLE, exercises=3).summary()).startswith("Lesson 4: 0 of 3 exercises done")


def test_the_summary_reasons_come_from_every_kind_of_checker():
    lesson = Lesson(TITLE, exercises=4)
    lesson.check(1, feedback.check_number(87, 88, name="count"))
    lesson.check(2, feedback.check_shape((3, 2), (2, 3)))
    lesson.check(3, feedback.check_matrix(-A, A))
    lesson.check(4, feedback.check_matrix(A + [[0, 0.5, 0], [0, 0, 0]], A))
    assert str(lesson.summary()) == (
        "Lesson 4: 0 of 4 exercises done; exercise 1: not right yet (off by one); exercise 2: not right yet (transposed); "
        "exercise 3: not right yet (every sign is flipped); exercise 4: not right yet (1 of 6 entries wrong)"
    )


def test_a_summary_never_shows_an_expected_value():
    lesson = Lesson(TITLE, exercises=1)
    lesson.check(1, feedback.check_number(85, 88))
    assert "88" not in str(lesson.summary())


def test_a_reason_is_kept_short_and_a_reasonless_wrong_answer_still_reads():
    lesson = Lesson(TITLE, exercises=2)
    lesson.check(1, Feedback(False, "J", "x" * 500))
    lesson.check(2, Feedback(False, "J", "", reason=""))
    text = str(lesson.summary())
    assert len(text) < 250 and text.endswith("exercise 2: not right yet")


def test_a_title_without_a_number_is_named_by_itself():
    assert str(Lesson("Warm-up", exercises=1).summary()) == "Warm-up: 0 of 1 exercise done; exercise 1: not checked — run its cell"
    assert repr(Lesson(TITLE, exercises=3)) == "Lesson('4 · Build backpropagation yourself', exercises=3)"


@pytest.mark.parametrize("number", [0, 4, -1, np.int64(4)])
def test_an_exercise_number_outside_the_lesson_is_a_clear_error(number):
    lesson = Lesson(TITLE, exercises=3)
    with pytest.raises(ValueError, match=r"Lesson 4 has exercises 1 to 3; got exercise "):
        lesson.check(number, right())


@pytest.mark.parametrize("number", [True, np.True_, 1.0, "1", None])
def test_an_exercise_number_is_an_integer(number):
    with pytest.raises(TypeError, match=r"Lesson 4: the exercise number must be an integer, got "):
        Lesson(TITLE, exercises=3).check(number, right())


def test_numpy_integers_count_as_integers():
    lesson = Lesson(TITLE, exercises=np.int64(2))
    assert lesson.exercises == 2 and type(lesson.exercises) is int
    lesson.check(np.int32(2), right())
    assert str(lesson.summary()) == "Lesson 4: 1 of 2 exercises done; exercise 1: not checked — run its cell"


@pytest.mark.parametrize("fb", [True, "✓", None, 1.0])
def test_check_takes_a_checker_s_feedback_only(fb):
    with pytest.raises(TypeError, match=r"Lesson 4, exercise 1: check\(\) takes the Feedback a checker returns"):
        Lesson(TITLE, exercises=3).check(1, fb)


@pytest.mark.parametrize("title, count, error, words", [
    ("", 2, TypeError, "title must be a non-empty string"),
    (4, 2, TypeError, "title must be a non-empty string"),
    (TITLE, 0, ValueError, r"Lesson '4 · Build backpropagation yourself': exercises \(how many the lesson has\) must be a positive integer, got 0"),
    (TITLE, -2, ValueError, "exercises .* must be a positive integer, got -2"),
    (TITLE, True, TypeError, r"exercises \(how many the lesson has\) must be an integer, got True \(bool\)"),
    (TITLE, "3", TypeError, r"must be an integer, got '3' \(str\)"),
    (TITLE, 3.0, TypeError, r"must be an integer, got 3.0 \(float\)"),
])
def test_a_lesson_is_declared_with_a_title_and_a_count(title, count, error, words):
    with pytest.raises(error, match=words):
        Lesson(title, exercises=count)


def test_lesson_summary_is_a_value():
    s = LessonSummary("Lesson 1", 1, 2, ((2, "not answered yet"),))
    assert s == LessonSummary("Lesson 1", 1, 2, ((2, "not answered yet"),)) and not s.complete

"""Task lists: rendered checkboxes and editing the source with toggle_task."""

from __future__ import annotations

import pytest

from kiln.markdown import (
    TaskNotFoundError,
    TaskNotToggleableError,
    list_tasks,
    render,
    toggle_task,
)

SOURCE = """\
Intro with a [ ] that is not a task.

- [ ] first
- [x] second
  - [X] nested
- [~] dropped
- not a task

```
- [ ] in a code block
```

1. [ ] ordered
> - [ ] quoted
"""


def test_checkbox_markup() -> None:
    html = render("- [ ] open\n- [x] done")
    assert html == (
        '<ul class="task-list">\n'
        '<li class="task-list-item"><input type="checkbox" class="task-list-item-checkbox" '
        'disabled=""> open</li>\n'
        '<li class="task-list-item"><input type="checkbox" class="task-list-item-checkbox" '
        'checked="" disabled=""> done</li>\n'
        "</ul>"
    )


def test_inapplicable_task_is_struck_through() -> None:
    html = render("- [~] not needed")
    assert '<li class="task-list-item inapplicable">' in html
    assert 'data-inapplicable="" disabled=""> <s>not needed</s></li>' in html


def test_loose_list_checkbox_is_inside_the_paragraph() -> None:
    html = render("- [x] done\n\n  more text\n")
    assert '<li class="task-list-item">\n<p><input type="checkbox"' in html
    assert "<p>more text</p>" in html


def test_only_boxes_at_the_start_of_an_item_count() -> None:
    html = render("- text [ ] later\n- [ ]not separated\n-\n  [ ] next line\n")
    assert "checkbox" not in html


def test_list_tasks_in_document_order() -> None:
    tasks = list_tasks(SOURCE)
    assert [(t.line, t.state) for t in tasks] == [
        (2, "open"),
        (3, "done"),
        (4, "done"),
        (5, "inapplicable"),
        (12, "open"),
        (13, "open"),
    ]
    assert render(SOURCE).count('class="task-list-item-checkbox"') == len(tasks)


@pytest.mark.parametrize(
    ("index", "checked", "old", "new"),
    [
        (1, True, "- [ ] first", "- [x] first"),
        (2, False, "- [x] second", "- [ ] second"),
        (3, False, "  - [X] nested", "  - [ ] nested"),
        (5, True, "1. [ ] ordered", "1. [x] ordered"),
        (6, True, "> - [ ] quoted", "> - [x] quoted"),
    ],
)
def test_toggle_by_index(index: int, checked: bool, old: str, new: str) -> None:
    result = toggle_task(SOURCE, index, checked)
    assert result == SOURCE.replace(old, new, 1)


def test_toggle_by_line() -> None:
    assert toggle_task(SOURCE, 4, False, by="line") == SOURCE.replace(
        "- [x] second", "- [ ] second"
    )
    assert toggle_task(SOURCE, 3, True, by="line") == SOURCE.replace("- [ ] first", "- [x] first")


def test_toggle_to_the_current_state_changes_nothing() -> None:
    assert toggle_task(SOURCE, 2, True) == SOURCE


def test_toggle_keeps_line_endings_and_other_text() -> None:
    source = "a\r\n\r\n- [ ] one\r\n- [ ] two\r\n"
    assert toggle_task(source, 2, True) == "a\r\n\r\n- [ ] one\r\n- [x] two\r\n"


def test_toggle_errors() -> None:
    with pytest.raises(TaskNotFoundError):
        toggle_task(SOURCE, 7, True)
    with pytest.raises(TaskNotFoundError):
        toggle_task(SOURCE, 0, True)
    with pytest.raises(TaskNotFoundError):
        toggle_task(SOURCE, 1, True, by="line")  # the intro's "[ ]" is not a task
    with pytest.raises(TaskNotFoundError):
        toggle_task(SOURCE, 9, True, by="line")  # inside the code block
    with pytest.raises(TaskNotToggleableError):
        toggle_task(SOURCE, 4, True)


def test_toggle_after_front_matter_and_multiline_quote() -> None:
    source = "---\ntitle: x\n---\n>>>\n- [ ] quoted task\n>>>\n"
    assert toggle_task(source, 1, True) == source.replace("[ ]", "[x]")
    assert toggle_task(source, 5, True, by="line") == source.replace("[ ]", "[x]")

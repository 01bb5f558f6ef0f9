"""The registries through which packages above kiln.namespaces take part in its rules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kiln.namespaces import hooks


@pytest.fixture
def clean_hooks() -> Iterator[None]:
    # Start empty (other packages register their own functions), restore afterwards.
    names = ("_BEFORE_DESTROY", "_PATH_CLAIMS", "_VISIBILITY", "_COUNTERS")
    saved = {name: list(getattr(hooks, name)) for name in names}
    for name in names:
        getattr(hooks, name).clear()
    yield
    for name, value in saved.items():
        getattr(hooks, name)[:] = value


def test_before_destroy_runs_every_function_once_in_order(clean_hooks: None) -> None:
    calls: list[tuple[str, list[int]]] = []

    def first(ids: list[int]) -> None:
        calls.append(("first", ids))

    def second(ids: list[int]) -> None:
        calls.append(("second", ids))

    hooks.register_before_namespace_destroy(first)
    hooks.register_before_namespace_destroy(second)
    hooks.register_before_namespace_destroy(first)  # registering twice is harmless
    hooks.run_before_namespace_destroy([3, 1, 3])
    hooks.run_before_namespace_destroy([])  # nothing to destroy: nobody is called
    assert calls == [("first", [1, 3]), ("second", [1, 3])]


def test_answers_combine_across_registered_functions(clean_hooks: None) -> None:
    hooks.register_child_path_claim(lambda namespace_id, path: path == "app")
    hooks.register_content_visibility(lambda ids: None)
    hooks.register_content_visibility(lambda ids: 10 if 7 in ids else None)
    hooks.register_content_counter(lambda ids: dict.fromkeys(ids, 1))
    hooks.register_content_counter(lambda ids: {ids[0]: 2})
    assert hooks.child_path_claimed(1, "app")
    assert not hooks.child_path_claimed(1, "web")
    assert hooks.max_content_visibility([7]) == 10
    assert hooks.max_content_visibility([8]) is None
    assert hooks.count_contents([4, 5]) == {4: 3, 5: 1}

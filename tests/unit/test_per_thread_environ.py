"""Each in-process Lambda sees its own function's environment, also when they run at once."""

from __future__ import annotations

import threading

from local.lambda_runtime import PerThreadEnviron


def test_concurrent_overlays_do_not_see_each_other() -> None:
    environ = PerThreadEnviron({"SHARED": "process"})
    both_inside = threading.Barrier(2)
    seen: dict[str, tuple[str, str]] = {}

    def run(name: str) -> None:
        with environ.overlay({"TABLE": f"table-{name}"}):
            both_inside.wait(timeout=5)
            seen[name] = (environ["TABLE"], environ["SHARED"])

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)

    assert seen == {"a": ("table-a", "process"), "b": ("table-b", "process")}
    assert "TABLE" not in environ


def test_writes_inside_an_overlay_stay_in_it_and_outside_reach_the_process() -> None:
    process = {"KEEP": "1"}
    environ = PerThreadEnviron(process)

    with environ.overlay({"FN": "x"}):
        environ["SET_BY_HANDLER"] = "y"
        assert dict(environ) == {"FN": "x", "SET_BY_HANDLER": "y", "KEEP": "1"}
        assert environ.get("KEEP") == "1"
    environ["SET_OUTSIDE"] = "z"

    assert process == {"KEEP": "1", "SET_OUTSIDE": "z"}
    assert len(environ) == 2


def test_overlays_nest_and_unwind() -> None:
    environ = PerThreadEnviron({})

    with environ.overlay({"A": "outer", "B": "outer"}):
        with environ.overlay({"B": "inner"}):
            assert (environ["A"], environ["B"]) == ("outer", "inner")
        assert environ["B"] == "outer"

    assert environ.copy() == {}

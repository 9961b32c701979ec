"""The collector settings a serving process runs with (gamehub/collector.py)."""

from __future__ import annotations

from tests.helpers import printed_by_fresh_python


def test_serving_freezes_start_up_and_spaces_out_collections() -> None:
    # In a process of its own: freezing and thresholds are process-wide.
    printed = printed_by_fresh_python(
        "import gc",
        "from gamehub.workarounds import collector",
        "assert gc.get_freeze_count() == 0",
        "collector.tune_for_serving()",
        "print(gc.get_threshold(), gc.get_freeze_count() > 0)",
    )
    assert printed == "(5000, 1, 1000) True"

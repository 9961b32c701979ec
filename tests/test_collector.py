"""The collector settings a serving process runs with (gamehub/collector.py)."""

from __future__ import annotations

import subprocess
import sys


def test_serving_freezes_start_up_and_spaces_out_collections() -> None:
    # In a process of its own: freezing and thresholds are process-wide.
    script = (
        "import gc\n"
        "from gamehub import collector\n"
        "assert gc.get_freeze_count() == 0\n"
        "collector.tune_for_serving()\n"
        "print(gc.get_threshold(), gc.get_freeze_count() > 0)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "(5000, 10, 100) True"

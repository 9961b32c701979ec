"""The work-arounds' fences: the installed releases are inside them, pyproject bounds the same
releases, an install outside a fence refuses to serve, and the collector's tuning is gated."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from gamehub import workarounds
from gamehub.app import create_app
from gamehub.settings import Settings
from gamehub.workarounds import FENCES, UnfencedVersion, collector_tuning_applies

ROOT = Path(__file__).resolve().parents[2]


def test_the_installed_releases_are_inside_every_fence() -> None:
    assert workarounds.problems() == []


def test_pyproject_bounds_what_each_fence_allows() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {
        spec.split(">=")[0].lower(): spec for spec in project["dependencies"] if ">=" in spec
    }
    for fence in FENCES:
        spec = declared[fence.distribution]
        high = ".".join(map(str, fence.high))
        assert f"<{high}" in spec, f"{fence.distribution}: {spec} lacks the fence's <{high}"


def test_a_release_outside_a_fence_refuses_to_serve(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    real = metadata.version

    def version(distribution: str) -> str:
        return "0.99.0" if distribution == "quart" else real(distribution)

    monkeypatch.setattr(metadata, "version", version)
    with pytest.raises(
        UnfencedVersion, match=r"asgi_http .* quart >=0\.20,<0\.23, installed 0\.99"
    ):
        create_app(settings)


def test_release_numbers_are_read_as_numbers() -> None:
    assert workarounds._release("0.22.0") == (0, 22, 0)
    assert workarounds._release("3.2.0rc1") == (3, 2, 0)
    assert workarounds._release("0.32.0+local.1") == (0, 32, 0)
    assert workarounds._release("0.10.1") > (0, 9)


def test_the_collector_is_tuned_only_below_python_3_14() -> None:
    assert collector_tuning_applies((3, 11))
    assert collector_tuning_applies((3, 13))
    assert not collector_tuning_applies((3, 14))

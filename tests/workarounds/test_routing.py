"""URL matching that remembers its matches (gamehub/routing.py): the same answers as werkzeug's."""

from __future__ import annotations

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect, Rule

from gamehub.workarounds import routing
from gamehub.workarounds.routing import RememberingMap


def _map() -> RememberingMap:
    url_map = RememberingMap()
    url_map.add(Rule("/games/pull-trigger", endpoint="pull", methods=["POST"]))
    url_map.add(Rule("/games/rooms/<int:room_id>/events", endpoint="events", methods=["GET"]))
    url_map.add(Rule("/docs/", endpoint="docs", methods=["GET"]))
    return url_map


def test_matches_are_werkzeugs_and_each_caller_gets_its_own_values() -> None:
    adapter = _map().bind("test")
    assert adapter.match("/games/pull-trigger", "POST") == ("pull", {})
    first = adapter.match("/games/rooms/7/events", "GET")
    assert first == ("events", {"room_id": 7})
    first[1]["room_id"] = 99  # a caller changing its values changes nobody else's
    assert adapter.match("/games/rooms/7/events", "GET") == ("events", {"room_id": 7})
    assert adapter.match("/games/rooms/8/events", "GET") == ("events", {"room_id": 8})


def test_misses_are_not_remembered_and_answer_as_before() -> None:
    url_map = _map()
    adapter = url_map.bind("test")
    for _ in range(2):
        with pytest.raises(NotFound):
            adapter.match("/games/rooms/x/events", "GET")
        with pytest.raises(MethodNotAllowed):
            adapter.match("/games/pull-trigger", "GET")
        with pytest.raises(RequestRedirect):
            adapter.match("/docs", "GET")
    assert url_map._matcher._known == {}  # type: ignore[attr-defined]


def test_what_it_remembers_is_bounded_and_forgotten_when_rules_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(routing, "REMEMBERED", 3)
    url_map = _map()
    adapter = url_map.bind("test")
    for room_id in range(10):
        adapter.match(f"/games/rooms/{room_id}/events", "GET")
        assert len(url_map._matcher._known) <= 3  # type: ignore[attr-defined]
    url_map.add(Rule("/games/leave", endpoint="leave", methods=["POST"]))
    assert url_map._matcher._known == {}  # type: ignore[attr-defined]
    assert url_map.bind("test").match("/games/leave", "POST") == ("leave", {})

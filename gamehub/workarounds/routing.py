"""URL matching that remembers what it matched: the same few paths are matched on every request.

werkzeug's matcher defines a recursive closure per call: a reference cycle per request, most of
the server's cyclic garbage under load. Misses are not remembered. Figures: docs/BENCHMARKS.md."""

from __future__ import annotations

from typing import Any

from quart import Quart
from quart.routing import QuartMap
from werkzeug.routing import Rule
from werkzeug.routing.matcher import StateMachineMatcher

# Bounded, since paths come from clients; paths with ids (a room's stream) vary, the rest not.
REMEMBERED = 4096


class RememberingMatcher(StateMachineMatcher):
    def __init__(self, merge_slashes: bool) -> None:
        super().__init__(merge_slashes)
        self._known: dict[tuple[str, str, str, bool], tuple[Rule, dict[str, Any]]] = {}

    def add(self, rule: Rule) -> None:
        self._known.clear()
        super().add(rule)

    def update(self) -> None:
        self._known.clear()
        super().update()

    def match(
        self, domain: str, path: str, method: str, websocket: bool
    ) -> tuple[Rule, dict[str, Any]]:
        key = (domain, path, method, websocket)
        known = self._known.get(key)
        if known is None:
            rule, values = super().match(domain, path, method, websocket)  # raises if none
            known = rule, dict(values)
            if len(self._known) >= REMEMBERED:
                self._known.clear()
            self._known[key] = known
        return known[0], dict(known[1])  # the caller's own values, as werkzeug gives


class RememberingMap(QuartMap):
    """Quart's map with a RememberingMatcher (`Quart.url_map_class`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        matcher = RememberingMatcher(self.merge_slashes)
        for rule in self._rules:  # rules given to the constructor, if any
            matcher.add(rule)
        self._matcher = matcher  # sorted at the first match: the map is marked to remap


class RememberingQuart(Quart):
    """The app class: Quart with the remembering URL map."""

    url_map_class = RememberingMap

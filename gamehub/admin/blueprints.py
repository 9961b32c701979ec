"""Every blueprint of the back office, for create_app to register."""

from __future__ import annotations

from quart import Blueprint


def admin_blueprints() -> list[Blueprint]:
    from gamehub.admin import (
        routes,
        routes_audit,
        routes_money,
        routes_reports,
        routes_support,
    )

    return [
        routes.blueprint,
        routes_support.blueprint,
        routes_money.blueprint,
        routes_reports.blueprint,
        routes_audit.blueprint,
    ]

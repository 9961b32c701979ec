"""Every blueprint of the back office, for create_app to register."""

from __future__ import annotations

from quart import Blueprint


def admin_blueprints() -> list[Blueprint]:
    from gamehub.admin import routes, routes_audit, routes_money, routes_reports, routes_support

    modules = (routes, routes_support, routes_money, routes_reports, routes_audit)
    return [module.blueprint for module in modules]

"""The wallet's settings: reconciler timings, limits and the callback address are validated."""

from __future__ import annotations

import pytest

from gamehub.settings import SettingsError, load_settings


def _load(**env: str) -> object:
    return load_settings({f"GAMEHUB_{k}": v for k, v in env.items()}, dotenv_path=None)


def test_defaults_and_overrides() -> None:
    settings = load_settings({}, dotenv_path=None)
    assert (settings.reconcile_after_s, settings.reconcile_interval_s) == (120.0, 30.0)
    assert settings.daily_deposit_cap_kes == 500_000
    assert settings.mpesa_sandbox_time_scale == 1.0
    changed = load_settings(
        {
            "GAMEHUB_RECONCILE_AFTER_S": "5",
            "GAMEHUB_RECONCILE_INTERVAL_S": "0.5",
            "GAMEHUB_DAILY_DEPOSIT_CAP_KES": "1000",
            "GAMEHUB_MPESA_CALLBACK_BASE_URL": "https://pay.example.com/",
        },
        dotenv_path=None,
    )
    assert (changed.reconcile_after_s, changed.reconcile_interval_s) == (5.0, 0.5)
    assert changed.daily_deposit_cap_kes == 1000
    assert changed.mpesa_callback_base_url == "https://pay.example.com"


@pytest.mark.parametrize(
    "env",
    [
        {"RECONCILE_AFTER_S": "soon"},
        {"RECONCILE_INTERVAL_S": "0"},
        {"RECONCILE_AFTER_S": "inf"},
        {"RECONCILE_AFTER_S": "nan"},
        {"MPESA_SANDBOX_TIME_SCALE": "-1"},
        {"DAILY_DEPOSIT_CAP_KES": "0"},
        {"WITHDRAW_MIN_KES": "500", "WITHDRAW_MAX_KES": "100"},
        {"MPESA_CALLBACK_BASE_URL": "ftp://example.com"},
        {"MPESA_CALLBACK_BASE_URL": "https://mpesa.example.com"},
    ],
)
def test_bad_values_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        _load(**env)

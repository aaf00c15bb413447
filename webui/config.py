"""Configuration from the environment (tests pass a mapping to create_app instead)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def _secret_key(instance_dir: Path) -> str:
    """GOVFLOW_SECRET_KEY, else a random key kept in instance/ so sessions survive restarts."""
    key = os.environ.get("GOVFLOW_SECRET_KEY")
    if key:
        return key
    path = instance_dir / "secret_key"
    if not path.exists():
        instance_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _positive(name: str, default: int) -> int:
    value = int(os.environ.get(name) or default)
    if value < 1:
        raise ValueError(f"{name} must be at least 1")
    return value


def rate_limit_defaults() -> dict:
    """Attempts allowed per window (engine/rate_limit.py): logins per submitted username and, five
    times as many by default, per client address in GOVFLOW_LOGIN_WINDOW_SECONDS; API tokens
    created per person and hour."""
    login = _positive("GOVFLOW_LOGIN_LIMIT", 10)
    return {
        "GOVFLOW_LOGIN_LIMIT": login,
        "GOVFLOW_LOGIN_ADDRESS_LIMIT": _positive("GOVFLOW_LOGIN_ADDRESS_LIMIT", 5 * login),
        "GOVFLOW_LOGIN_WINDOW_SECONDS": _positive("GOVFLOW_LOGIN_WINDOW_SECONDS", 300),
        "GOVFLOW_TOKEN_CREATE_LIMIT": _positive("GOVFLOW_TOKEN_CREATE_LIMIT", 10),
    }


def from_environment() -> dict:
    instance_dir = Path(os.environ.get("GOVFLOW_INSTANCE_DIR", "instance"))
    return {
        "SECRET_KEY": _secret_key(instance_dir),
        "GOVFLOW_DATABASE_URL": os.environ.get("GOVFLOW_DATABASE_URL"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "MAX_CONTENT_LENGTH": 11 * 1024 * 1024,  # attachments up to 10 MB
        "GOVFLOW_SESSION_MINUTES": int(os.environ.get("GOVFLOW_SESSION_MINUTES") or 30),  # idle logout
        "GOVFLOW_TRUSTED_PROXIES": trusted_proxies(),
        **rate_limit_defaults(),
    }


def trusted_proxies() -> int:
    """GOVFLOW_TRUSTED_PROXIES: how many reverse proxies in front of the app append to
    X-Forwarded-For (0: none, the peer address is the client's). Set it to exactly the number
    of proxies: trusting more would let a client choose the address its login limits count on."""
    value = int(os.environ.get("GOVFLOW_TRUSTED_PROXIES") or 0)
    if value < 0:
        raise ValueError("GOVFLOW_TRUSTED_PROXIES must be 0 or more")
    return value

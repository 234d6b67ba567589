"""What the browser tests share besides the Chromium fixture (tests/browser/test_pages.py): signing in on the page."""

from __future__ import annotations

PASSWORD = "a-long-pass-phrase"  # the password the browser tests give the people they create


def log_in(page, base: str, username: str, password: str = PASSWORD) -> None:
    """Sign in through the login page as a person would, from a fresh cookie jar (so any earlier session is gone)."""
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()

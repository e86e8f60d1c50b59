"""What a browser's user agent says about it, in a few words: "Firefox on Windows"."""

from __future__ import annotations

from luotsi.platform.i18n import gettext as _

# First match wins: Edge and Opera also say "Chrome", Android also says "Linux", an iPhone
# also says "Mac OS X".
_BROWSERS = (
    ("Edg", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("CriOS/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Windows", "Windows"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Android", "Android"),
    ("CrOS", "ChromeOS"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)
USER_AGENT_SHOWN = 40
# A sign-in session keeps the browser and system only, in these words (no translation is
# stored: the page shows it in its reader's language through :func:`device_label`).
_DEVICE_SEPARATOR = " / "


def _browser_and_system(user_agent: str) -> tuple[str | None, str | None]:
    browser = next((name for mark, name in _BROWSERS if mark in user_agent), None)
    system = next((name for mark, name in _SYSTEMS if mark in user_agent), None)
    return browser, system


def _shortened(user_agent: str) -> str:
    if len(user_agent) > USER_AGENT_SHOWN:
        return user_agent[: USER_AGENT_SHOWN - 1] + "…"
    return user_agent


def browser_summary(user_agent: str) -> str:
    """ "Firefox on Windows" for a known browser, else the start of the user agent."""
    browser, system = _browser_and_system(user_agent)
    if browser and system:
        return _("%(browser)s on %(system)s") % {"browser": browser, "system": system}
    return _shortened(user_agent)


def device_of(user_agent: str) -> str:
    """What a sign-in session keeps of its browser: "Firefox / Windows", or the start of an
    unknown user agent."""
    browser, system = _browser_and_system(user_agent)
    if browser and system:
        return f"{browser}{_DEVICE_SEPARATOR}{system}"
    return _shortened(user_agent)


def device_label(device: str) -> str:
    """A stored device (:func:`device_of`) in the reader's words."""
    browser, separator, system = device.partition(_DEVICE_SEPARATOR)
    if separator and (browser, system) == _browser_and_system_names(browser, system):
        return _("%(browser)s on %(system)s") % {"browser": browser, "system": system}
    return device or _("Unknown browser")


def _browser_and_system_names(browser: str, system: str) -> tuple[str | None, str | None]:
    known_browser = browser if browser in {name for _mark, name in _BROWSERS} else None
    known_system = system if system in {name for _mark, name in _SYSTEMS} else None
    return known_browser, known_system

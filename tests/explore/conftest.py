"""Browser fixtures: Playwright driving the operating system's Chromium, one server per module.

Chromium: ``/usr/bin/chromium`` (or ``chromium`` / ``chromium-browser`` on PATH, or the path in
``HJDL_CHROMIUM``). When none exists and the user is root (as in CI), the set-up installs Debian's
package (``apt-get update`` then ``apt-get install -y chromium``); elsewhere the browser tests
skip with the reason. Screenshots go to ``$HJDL_ARTIFACTS`` when set, else to a pytest
temporary folder whose path is printed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("panel", reason="the explorer needs Panel: pip install hjdl[explore]")
pytest.importorskip("bokeh", reason="the explorer needs Bokeh: pip install hjdl[explore]")
pytest.importorskip("playwright.sync_api", reason="the browser tests need Playwright's Python API: pip install playwright")

_CANDIDATES = ("chromium", "chromium-browser")
_installed = {}


def _find_chromium() -> str | None:
    env = os.environ.get("HJDL_CHROMIUM")
    if env and Path(env).exists():
        return env
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_path() -> str:
    """The Chromium executable, installed with apt when missing and root; else the test skips."""
    path = _find_chromium()
    if path:
        return path
    if "tried" in _installed:
        pytest.skip(_installed["tried"])
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        try:
            subprocess.run(["apt-get", "update"], check=True, capture_output=True, timeout=600)
            subprocess.run(["apt-get", "install", "-y", "chromium"], check=True, capture_output=True,
                           timeout=900, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        except (subprocess.SubprocessError, OSError) as exc:
            _installed["tried"] = f"Chromium missing and `apt-get install -y chromium` failed: {exc}"
            pytest.skip(_installed["tried"])
        path = _find_chromium()
        if path:
            return path
        _installed["tried"] = "Chromium missing: apt-get installed the package but no chromium executable was found"
        pytest.skip(_installed["tried"])
    _installed["tried"] = ("Chromium not found (looked for /usr/bin/chromium, chromium, chromium-browser, "
                           "$HJDL_CHROMIUM) and not root to install it: `apt-get install chromium` to run "
                           "the browser tests")
    pytest.skip(_installed["tried"])


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory) -> Path:
    env = os.environ.get("HJDL_ARTIFACTS")
    folder = Path(env) if env else tmp_path_factory.mktemp("explore-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nhjdl explore: screenshots in {folder}")
    return folder


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()

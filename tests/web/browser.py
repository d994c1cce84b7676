"""Debian's Chromium driven by Selenium: installed by the test setup when missing (apt-get, as
root, like PostgreSQL in host_tools/vending/scratch_pg.py); failing to get it FAILS the test."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS_ENV = "PREPAY_SCREENSHOTS"  # a directory to keep the screenshots in (e.g. docs/)


def ensure_chromium():
    """Install chromium and chromium-driver from Debian unless both are there."""
    if os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.fail("Chromium is not installed and apt-get (as root) is unavailable")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "chromium", "chromium-driver"],
    ):
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            pytest.fail(f"{' '.join(cmd)} failed: {' '.join(tail)}")
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.fail(f"apt-get installed no {CHROMIUM} / {CHROMEDRIVER}")


def new_driver(profile_dir):
    """A headless Chromium with a fresh profile, no background traffic, console logs kept."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    ensure_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--window-size=1200,900",
        f"--user-data-dir={profile_dir}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    except Exception as error:  # noqa: BLE001 - any start-up failure is a failed test
        pytest.fail(f"Chromium did not start: {error}")


class Browser:
    """The driver plus the checks every page gets: no console errors, a screenshot."""

    def __init__(self, base_url, shots_dir):
        self.base_url = base_url
        self.shots = Path(shots_dir)
        self.shots.mkdir(parents=True, exist_ok=True)
        self.profile = tempfile.mkdtemp(prefix="prepay-chromium-")
        self.driver = new_driver(self.profile)
        self.console = []

    def get(self, path, status=None):
        self.driver.get(self.base_url + path)
        self.check_console(status)

    def check_console(self, status=None):
        """No console errors so far; `status`: the refusal (403...) this page is meant to be,
        which Chromium logs as a failed resource load."""
        entries = self.driver.get_log("browser")
        self.console += entries
        expected = f"status of {status} " if status else None
        errors = [
            e
            for e in entries
            if e["level"] == "SEVERE"
            and not (expected and e["source"] == "network" and expected in e["message"])
        ]
        assert not errors, f"console errors: {errors}"

    def find(self, css):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css):
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def fill(self, css, text):
        field = self.find(css)
        field.clear()
        field.send_keys(text)

    def submit(self, css, status=None, navigates=True):
        """Click a button or link and wait for the next page (not for a form the browser
        keeps, e.g. a `required` field left empty: navigates=False)."""
        from selenium.webdriver.support.ui import WebDriverWait

        page = self.find("html")
        self.find(css).click()
        if navigates:
            wait = WebDriverWait(self.driver, 30)
            wait.until(_left(page))
            wait.until(lambda d: d.execute_script("return document.readyState") == "complete")
        self.check_console(status)

    click = submit

    def wait_for(self, css):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import WebDriverWait

        located = expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css))
        return WebDriverWait(self.driver, 30).until(located)

    def text(self, css="body"):
        return self.find(css).text

    def media(self, kind):
        """Emulate `print` (the receipt as it prints) or back to `screen`."""
        self.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": kind})

    def shot(self, name, full_page=True):
        """A PNG of the page into the run's directory (and $PREPAY_SCREENSHOTS if set)."""
        if full_page:
            height = self.driver.execute_script("return document.documentElement.scrollHeight")
            self.driver.set_window_size(1200, max(600, min(int(height) + 40, 4000)))
        path = self.shots / f"{name}.png"
        self.driver.save_screenshot(str(path))
        keep = os.environ.get(SCREENSHOTS_ENV)
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(keep) / path.name)
        self.driver.set_window_size(1200, 900)
        return path

    def quit(self):
        self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)


def _left(page):
    """A wait condition: the browser has left `page` (its <html> element is gone). Chromium
    sometimes answers a look at the old element mid-navigation with "Node with given id does
    not belong to the document" (an unknown error, not a stale reference): gone all the same."""
    from selenium.common.exceptions import WebDriverException

    def left(_driver):
        try:
            page.is_enabled()
        except WebDriverException:  # StaleElementReferenceException is one
            return True
        return False

    return left

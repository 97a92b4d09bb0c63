"""What the console's browser scripts share: a failure reported through a file (the tests read no pipe of these
processes: their readers would hold thread-pool threads the host under test needs) and Debian's headless chromium
driven through chromedriver (python3-selenium)."""
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

_failure = None


def report_failures_to(path):
    """Names the file fail() writes its reason to."""
    global _failure
    _failure = path


def fail(message):
    """Writes the reason to the failure file and exits 1."""
    with open(_failure, "w", encoding="utf-8") as file:
        file.write(message)
    sys.exit(1)


def chromium(window="1280,800"):
    """A headless chromium of the given window size, "width,height"."""
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", f"--window-size={window}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)

"""What the console's browser scripts share: headless chromium through chromedriver, and failing with the reason in a
file (the tests read no pipe of these processes: their readers would hold thread-pool threads the host under test
needs)."""
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service


class Failure:
    """Where a script writes why it failed before exiting 1."""

    path = None


def fail(message):
    with open(Failure.path, "w", encoding="utf-8") as file:
        file.write(message)
    sys.exit(1)


def chromium(width, height):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", f"--window-size={width},{height}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)

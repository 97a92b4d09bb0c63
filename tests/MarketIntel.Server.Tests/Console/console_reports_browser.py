#!/usr/bin/env python3
"""Drives Debian's headless chromium through chromedriver (python3-selenium) over the console's reports page for
ConsoleReportsBrowserTests: opens /ui/reports, checks that the report --report (written by `marketintel backtest`) is
listed with its files, opens it, and checks that its two plots load as images and its Markdown shows as text. Saves
reports.png into the artifacts folder. Exits 1 on a failure, with the reason in the --failure file (the test reads no
pipe of this process, as for console_browser.py)."""
import argparse

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from console_driver import Failure, chromium, fail


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--report", required=True, help="the report folder the test wrote")
    parser.add_argument("--artifacts", required=True)
    parser.add_argument("--failure", required=True, help="a file to write the reason of a failure to")
    parser.add_argument("--wait", type=float, default=60, help="seconds to wait for anything before failing")
    args = parser.parse_args()
    Failure.path = args.failure

    driver = chromium(1280, 1600)
    try:
        wait = WebDriverWait(driver, args.wait)
        driver.get(f"{args.url}/ui/reports")
        row = f'#reports tbody tr[data-key="{args.report}"]'

        def status():
            return driver.find_element(By.ID, "status").text

        try:
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, row))
        except Exception:
            fail(f"report {args.report} not listed; status {status()!r}; browser log: {driver.get_log('browser')}")
        files = [a.text for a in driver.find_elements(By.CSS_SELECTOR, f"{row} td:nth-child(3) a")]
        if files != ["calibration.svg", "equity.svg", "report.md"]:
            fail(f"files listed {files}")

        driver.find_element(By.CSS_SELECTOR, f"{row} td:first-child a").click()
        try:
            wait.until(lambda d: d.find_element(By.ID, "markdown").text.startswith("# Walk-forward backtest"))
        except Exception:
            fail(f"report text {driver.find_element(By.ID, 'markdown').text[:200]!r}; status {status()!r}")
        if driver.find_element(By.ID, "report-name").text != args.report:
            fail(f"heading {driver.find_element(By.ID, 'report-name').text!r}")
        if "![equity](equity.svg)" not in driver.find_element(By.ID, "markdown").text:
            fail("the Markdown does not end with its plots' references")

        def loaded(d):
            images = d.find_elements(By.CSS_SELECTOR, "#plots img")
            return len(images) == 2 and all(d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", i) for i in images)

        try:
            wait.until(loaded)
        except Exception:
            shown = [(i.get_attribute("alt"), i.get_attribute("src")) for i in driver.find_elements(By.CSS_SELECTOR, "#plots img")]
            fail(f"plots did not load: {shown}; browser log: {driver.get_log('browser')}")
        driver.save_screenshot(f"{args.artifacts}/reports.png")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()

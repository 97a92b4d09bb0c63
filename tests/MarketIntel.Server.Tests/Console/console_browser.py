#!/usr/bin/env python3
"""Drives Debian's headless chromium through chromedriver (python3-selenium) over the web console for
ConsoleBrowserTests: loads the assets page with a search, checks the rows, waits for the live feed to open, creates
the --ready file, and waits for the --asset row to show the --as-of time of the bar the test then ingests. Saves a
screenshot of each state into the artifacts folder. Exits 1 on a failure, with the reason in the --failure file (the
test reads no pipe of this process: its readers would hold thread-pool threads the host under test needs)."""
import argparse

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from console_driver import chromium, fail, report_failures_to


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--search", required=True)
    parser.add_argument("--assets", required=True, help="comma-separated symbols the page must list, in order")
    parser.add_argument("--asset", required=True, help="the asset whose next bar the test ingests once the page is ready")
    parser.add_argument("--as-of", required=True, help="that bar's time as the page shows it")
    parser.add_argument("--ready", required=True, help="a file to create once the page is ready for the bar")
    parser.add_argument("--artifacts", required=True)
    parser.add_argument("--failure", required=True, help="a file to write the reason of a failure to")
    parser.add_argument("--wait", type=float, default=60, help="seconds to wait for anything before failing")
    args = parser.parse_args()
    report_failures_to(args.failure)
    driver = chromium()
    try:
        wait = WebDriverWait(driver, args.wait)
        driver.get(f"{args.url}/ui?search={args.search}")
        expected = args.assets.split(",")

        def rows():
            return [r.get_attribute("data-asset") for r in driver.find_elements(By.CSS_SELECTOR, "#assets tbody tr")]

        try:
            wait.until(lambda d: rows() == expected)
        except Exception:
            fail(f"rows {rows()}, not {expected}; status {driver.find_element(By.ID, 'status').text!r}")
        status = driver.find_element(By.ID, "status").text
        if not status.startswith(f"{len(expected)} active assets"):
            fail(f"status line: {status!r}")
        for row in driver.find_elements(By.CSS_SELECTOR, "#assets tbody tr"):
            version = row.find_element(By.CSS_SELECTOR, ".version").text
            prediction = row.find_element(By.CSS_SELECTOR, ".prediction").text
            if not version.startswith("direction-d3-n60:") or prediction == "-":
                fail(f"row {row.get_attribute('data-asset')}: version {version!r}, prediction {prediction!r}")
        try:
            wait.until(lambda d: d.find_element(By.ID, "live").text == "open")
        except Exception:
            fail(f"live updates: {driver.find_element(By.ID, 'live').text!r}")
        driver.save_screenshot(f"{args.artifacts}/assets.png")
        open(args.ready, "w").close()

        asset, as_of = args.asset, args.as_of
        cell = f'#assets tbody tr[data-asset="{asset}"] .latest-bar'
        try:
            wait.until(lambda d: d.find_element(By.CSS_SELECTOR, cell).text == as_of)
        except Exception:
            server = driver.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                f"fetch('/assets?search={asset}').then(r => r.text()).then(done, e => done(String(e)));")
            fail(f"{asset}: latest bar still {driver.find_element(By.CSS_SELECTOR, cell).text!r}, not {as_of!r}; "
                 f"live updates: {driver.find_element(By.ID, 'live').text!r}; the server has {server}; "
                 f"browser log: {driver.get_log('browser')}")
        driver.save_screenshot(f"{args.artifacts}/assets-live.png")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Drives Debian's headless chromium through chromedriver (python3-selenium) over the console's asset page for
AssetPageBrowserTests: opens the assets table searched to --asset, follows the asset's link, and checks that the page
shows the asset's prediction by --version, its price chart (closes and predictions, loaded), its features (the version's --features among them), a drift row per
series (the features, then the prediction) with a loaded chart each, and its bar count. Saves asset.png into the artifacts folder. Exits 1 on a failure with the
reason in the --failure file (the test reads no pipe of this process: its readers would hold thread-pool threads the
host under test needs)."""
import argparse
from urllib.parse import quote

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from console_driver import Failure, chromium, fail


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--asset", required=True)
    parser.add_argument("--version", required=True, help="the served version as the page shows it, name:version")
    parser.add_argument("--features", required=True, help="comma-separated inputs of the version, in order")
    parser.add_argument("--bars", required=True, help="the asset's bar count as the quality table shows it")
    parser.add_argument("--artifacts", required=True)
    parser.add_argument("--failure", required=True, help="a file to write the reason of a failure to")
    parser.add_argument("--wait", type=float, default=60, help="seconds to wait for anything before failing")
    args = parser.parse_args()
    Failure.path = args.failure
    driver = chromium(1280, 2400)
    try:
        wait = WebDriverWait(driver, args.wait)

        def status():
            return driver.find_element(By.ID, "status").text

        driver.get(f"{args.url}/ui?search={quote(args.asset, safe='')}")
        link = f'#assets tbody tr[data-asset="{args.asset}"] td.asset a'
        try:
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, link))
        except Exception:
            fail(f"the assets table has no link for {args.asset}; status {status()!r}")
        driver.find_element(By.CSS_SELECTOR, link).click()
        try:
            wait.until(lambda d: "/ui/asset?" in d.current_url and status() != "Loading...")
        except Exception:
            fail(f"the asset page did not load: {driver.current_url}; status {status()!r}")
        if status() != "Loaded.":
            fail(f"status {status()!r}; browser log: {driver.get_log('browser')}")
        if driver.find_element(By.ID, "title").text != args.asset:
            fail(f"title {driver.find_element(By.ID, 'title').text!r}, not {args.asset!r}")
        prediction = driver.find_element(By.ID, "prediction").text
        if f"by {args.version}," not in prediction:
            fail(f"prediction {prediction!r} is not by {args.version}")

        def price_chart_loaded(d):
            return d.execute_script(
                "const i = document.querySelector('#price-chart img'); return !!i && i.complete && i.naturalWidth > 0;")
        try:
            wait.until(price_chart_loaded)
        except Exception:
            fail(f"price chart: {driver.find_element(By.ID, 'price-chart').text!r}; browser log: {driver.get_log('browser')}")

        features = args.features.split(",")
        shown = [r.find_elements(By.TAG_NAME, "td")[0].text for r in driver.find_elements(By.CSS_SELECTOR, "#features tbody tr")]
        # The grid computes its whole feature set for every asset; the version's inputs are among them.
        if not shown or any(f not in shown for f in features):
            fail(f"features {shown} lack some of {features}")
        series = features + ["prediction"]
        rows = [r.get_attribute("data-series") for r in driver.find_elements(By.CSS_SELECTOR, "#drift tbody tr")]
        if rows != series:
            fail(f"drift rows {rows}, not {series}")

        def charts_loaded(d):
            figures = d.find_elements(By.CSS_SELECTOR, "#charts figure")
            return [f.get_attribute("data-series") for f in figures] == series and all(
                d.execute_script("const i = arguments[0].querySelector('img'); return !!i && i.complete && i.naturalWidth > 0;", f)
                for f in figures)
        try:
            wait.until(charts_loaded)
        except Exception:
            fail(f"charts: {[f.text for f in driver.find_elements(By.CSS_SELECTOR, '#charts figure')]}; "
                 f"browser log: {driver.get_log('browser')}")

        quality = {r.find_elements(By.TAG_NAME, "td")[0].text: r.find_elements(By.TAG_NAME, "td")[1].text
                   for r in driver.find_elements(By.CSS_SELECTOR, "#quality tbody tr")}
        if quality.get("Bars") != args.bars:
            fail(f"quality {quality}: not {args.bars} bars")
        if not driver.find_elements(By.CSS_SELECTOR, "#findings li"):
            fail("the findings list is empty (it says 'none' when there are none)")
        driver.save_screenshot(f"{args.artifacts}/asset.png")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()

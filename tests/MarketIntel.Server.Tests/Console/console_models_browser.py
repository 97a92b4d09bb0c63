#!/usr/bin/env python3
"""Drives Debian's headless chromium through chromedriver (python3-selenium) over the console's models page for
ConsoleModelsBrowserTests: opens /ui/models?name=NAME for the model name the test registered (v1 behind the alias
champion with v3 split off at 20%, v2 a shadow with a lineage replacing v1, v1 tagged with --markup, stored scores for v1 and v2, a retraining job --job) and checks that
the versions, the alias, the scores and the champion/challenger pair, the promotion gate's verdict on each challenger and the job appear, that the markup shows as text, and that
the page refreshes. Saves models.png into the artifacts folder. Exits 1 on a failure, with the reason in the --failure
file (the test reads no pipe of this process, as for console_browser.py)."""
import argparse

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from console_driver import Failure, chromium, fail


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--name", required=True, help="the model name the test registered")
    parser.add_argument("--markup", required=True, help="a tag value of v1 that must show as text")
    parser.add_argument("--job", required=True, help="the id of the retraining job the test started")
    parser.add_argument("--artifacts", required=True)
    parser.add_argument("--failure", required=True, help="a file to write the reason of a failure to")
    parser.add_argument("--wait", type=float, default=60, help="seconds to wait for anything before failing")
    args = parser.parse_args()
    Failure.path = args.failure

    driver = chromium(1280, 1400)
    try:
        wait = WebDriverWait(driver, args.wait)
        driver.get(f"{args.url}/ui/models?name={args.name}")

        def keys(table):
            return [r.get_attribute("data-key") for r in driver.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr")]

        def cells(table, key):
            row = driver.find_element(By.CSS_SELECTOR, f'#{table} tbody tr[data-key="{key}"]')
            return [td.text for td in row.find_elements(By.TAG_NAME, "td")]

        def status():
            return driver.find_element(By.ID, "status").text

        try:
            wait.until(lambda d: keys("versions") == ["v1", "v2", "v3"])
        except Exception:
            fail(f"version rows {keys('versions')}; status {status()!r}; browser log: {driver.get_log('browser')}")
        if status() != f"{args.name}: 3 versions":
            fail(f"status line: {status()!r}")

        # Each version's role from the deployment, and v1's tags with the markup as plain text.
        roles = {key: cells("versions", key)[1] for key in ("v1", "v2", "v3")}
        if roles != {"v1": "alias champion", "v2": "shadow", "v3": "split of champion (20%)"}:
            fail(f"roles {roles}")
        tags = cells("versions", "v1")[5]
        if tags != f"note={args.markup}, stage=live" and tags != f"stage=live, note={args.markup}":
            fail(f"v1 tags {tags!r}")
        lineage = cells("versions", "v2")[7]
        if not lineage.startswith("replaces v1; {") or '"horizon":3' not in lineage:
            fail(f"v2 lineage {lineage!r}")
        if driver.find_elements(By.CSS_SELECTOR, "main img") or driver.title == "owned":
            fail("a tag value was put in as markup")

        if keys("aliases") != ["champion"] or cells("aliases", "champion") != ["champion", "v1", "v3 for 20.0% of assets", "off"]:
            fail(f"aliases {keys('aliases')}: {cells('aliases', 'champion') if keys('aliases') else []}")
        shadows = driver.find_element(By.ID, "shadows").text
        if shadows != "v2":
            fail(f"shadows {shadows!r}")

        try:
            wait.until(lambda d: keys("scores") == ["v1", "v2"])
        except Exception:
            fail(f"score rows {keys('scores')}")
        v1 = cells("scores", "v1")
        if v1[1:6] != ["arm", "up_3", "30", "18", "0.6000"] or v1[6] != "0.6500" or v1[7] != "0.2400":
            fail(f"v1 scores {v1}")
        if cells("scores", "v2")[1] != "shadow":
            fail(f"v2 scores {cells('scores', 'v2')}")
        pair = cells("pairs", "v1/v2")
        if pair != ["v1", "v2", "30", "14", "4", "2", "-0.0500"]:
            fail(f"pair {pair}")

        # What the promotion gate would decide now: on 30 pairs, under the default 500, too few, with the count; McNemar's
        # exact p for b = 4, c = 2 is 44/64. The split arm v3 was never paired with v1: no pairs, and the gate says why.
        if keys("gate") != ["champion/v2", "champion/v3"]:
            fail(f"gate rows {keys('gate')}")
        gate = cells("gate", "champion/v2")
        if gate[:6] != ["champion", "v1", "v2", "too few pairs: 30 of 500", "30 of 500 needed", "b 4, c 2, p 0.6875"]:
            fail(f"gate on v2 {gate}")
        if not gate[7].startswith("mean loss difference -0.0500 (-7.69% of the champion's), hit rate -6.67 points") or gate[8] != "0.050":
            fail(f"gate on v2 {gate}")
        if not gate[9].startswith("refused: only 30 paired outcomes, 500 needed"):
            fail(f"gate on v2 {gate}")
        arm = cells("gate", "champion/v3")
        if arm[3] != "too few pairs: 0 of 500" or "the challenger v3 has no scored outcome" not in arm[9]:
            fail(f"gate on v3 {arm}")

        # The job the test started, with its progress; the trail holds every change the test made, newest first.
        if keys("jobs") != [args.job]:
            fail(f"jobs {keys('jobs')}, not [{args.job!r}]")
        job = cells("jobs", args.job)
        if job[2] != "manual" or job[3] not in ("waiting", "running", "registered", "promoted", "rejected", "failed", "cancelled") or " bars, " not in job[4]:
            fail(f"job {job}")
        actions = [r.find_elements(By.TAG_NAME, "td")[2].text for r in driver.find_elements(By.CSS_SELECTOR, "#audit tbody tr")]
        if len(actions) < 7 or actions[0] != "tags":
            fail(f"audit actions {actions}")
        details = [r.find_elements(By.TAG_NAME, "td")[5].text for r in driver.find_elements(By.CSS_SELECTOR, "#audit tbody tr")]
        if any("[object" in detail for detail in details):
            fail(f"audit details {details}")

        first = driver.find_element(By.ID, "refreshed").text
        try:
            wait.until(lambda d: d.find_element(By.ID, "refreshed").text not in ("not yet", first))
        except Exception:
            fail(f"the page did not refresh: still {first!r}")
        driver.save_screenshot(f"{args.artifacts}/models.png")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()

"""The client against a live grid (TLS and API keys on, a serving silo with no worker, drift windows of 50 bars):
tests/MarketIntel.Cli.Tests/PythonClientTests.cs starts one and sets the variables read below. Each test uses assets
and model names of its own, so they hold in any order."""

import concurrent.futures
import json
import math
import os
import ssl
import unittest
import urllib.parse
import urllib.request
import uuid

import grpc
import numpy as np
import pandas as pd

from marketintel import Grid, GridError, PredictionStream


def setting(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: these tests run against a live grid; "
                           "tests/MarketIntel.Cli.Tests/PythonClientTests.cs starts one and sets it")
    return value


TARGET = setting("MARKETINTEL_TEST_TARGET")      # grpcs://127.0.0.1:PORT
HTTP = setting("MARKETINTEL_TEST_HTTP")          # https://127.0.0.1:PORT
CA = setting("MARKETINTEL_TEST_CA")              # the PEM of the CA that signed the grid's certificate
ADMIN = setting("MARKETINTEL_TEST_ADMIN_KEY")
READER = setting("MARKETINTEL_TEST_READER_KEY")
MODEL = setting("MARKETINTEL_TEST_MODEL")        # an XGBoost JSON model whose features the grid computes from bars
WINDOW = 50                                      # the grid's Grid:Drift:Window
DIRECTION_1 = json.dumps({"label": {"kind": "direction", "horizon": 1}})


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def daily_bars(asset, count, start="2024-01-01"):
    """A smooth daily series: every bar valid, prices moving up and down."""
    steps = np.arange(count)
    close = 100 * np.exp(np.cumsum(0.01 * np.sin(steps * 0.7)))
    return pd.DataFrame({
        "asset": asset, "timestamp": pd.date_range(start, periods=count, freq="D"),
        "open": close * 0.999, "high": close * 1.01, "low": close * 0.99, "close": close, "volume": 1000.0 + steps,
    })


def http_get(path, key=READER):
    """GET on the grid's HTTP API (the same grid, over HTTPS), as JSON."""
    request = urllib.request.Request(HTTP + path, headers={"authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=CA), timeout=60) as response:
        return json.load(response)


def same_number(grpc_value, json_value):
    """A double from gRPC equals the HTTP API's JSON number, with NaN shown as null there."""
    return math.isnan(grpc_value) if json_value is None else grpc_value == json_value


class LiveGridTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.grid = Grid(TARGET, api_key=ADMIN, tls_ca=CA)

    @classmethod
    def tearDownClass(cls):
        cls.grid.close()

    def served(self, bars_count, shadow=False, profile=False):
        """A new model name with v1 as its champion (and v2 as a shadow; a reference profile of random feature rows),
        serving a new asset that has taken bars_count bars; returns (name, asset, bars)."""
        name, asset = unique("py"), unique("PY")
        registered = self.grid.register(name, "v1", MODEL, lineage=DIRECTION_1, alias="champion")
        if profile:
            features = registered["feature_names"]
            rows = pd.DataFrame(np.random.default_rng(7).normal(size=(400, len(features))), columns=features)
            self.assertTrue(self.grid.set_profile(name, "v1", matrix=rows)["has_profile"])
        if shadow:
            self.grid.register(name, "v2", MODEL, lineage=DIRECTION_1)
            self.grid.set_shadow(name, "v2")
        self.grid.assign(asset, name, "@champion")
        bars = daily_bars(asset, bars_count)
        result = self.grid.ingest(bars)
        self.assertEqual((result.accepted, result.ignored, result.rejected), (bars_count, 0, 0))
        return name, asset, bars

    def test_ingest_counts_each_bar_once_and_a_resend_is_ignored(self):
        bars = daily_bars(unique("PY"), 30)
        bars = pd.concat([bars, daily_bars(unique("PY"), 20)], ignore_index=True)
        first = self.grid.ingest(bars)
        self.assertEqual((first.accepted, first.ignored, first.rejected), (50, 0, 0))
        again = self.grid.ingest(bars.iloc[::-1])  # any row order: each asset's bars are sent in time order
        self.assertEqual((again.accepted, again.ignored, again.rejected), (0, 50, 0))
        self.assertEqual(again.holder, first.holder)

    def test_a_bar_the_grid_finds_invalid_is_a_rejection_with_its_reason_not_an_error(self):
        bars = daily_bars(unique("PY"), 5)
        bars.loc[2, "high"] = bars.loc[2, "low"] / 2
        result = self.grid.ingest(bars)
        self.assertEqual((result.accepted, result.rejected), (4, 1))
        self.assertEqual(list(result.rejections.asset), [bars.asset[0]])
        self.assertIn("below low", result.rejections.reason[0])

    def test_predict_equals_what_http_predict_says(self):
        name, asset, bars = self.served(40)
        row = self.grid.predict([asset]).iloc[0]
        http = http_get(f"/predict/{urllib.parse.quote(asset, safe='')}")
        self.assertEqual((row.asset, row.model, row.version), (asset, name, "v1"))
        self.assertEqual(np.float32(row.value), np.float32(http["prediction"]))
        self.assertEqual(row.as_of, pd.Timestamp(http["asOf"]))
        self.assertEqual(row.as_of, bars.timestamp.iloc[-1].tz_localize("UTC"))
        self.assertEqual(row["values"], (row.value,))

    def test_features_equal_what_http_features_says_in_the_same_order(self):
        _, asset, _ = self.served(40)
        features = self.grid.features(asset)
        http = http_get(f"/features/{urllib.parse.quote(asset, safe='')}")
        self.assertEqual(list(features.index), [asset])
        self.assertEqual(features.as_of[asset], pd.Timestamp(http.pop("asOf")))
        self.assertEqual(list(features.columns[1:]), list(http))
        for column, value in http.items():
            self.assertTrue(same_number(features[column][asset], value), f"{column}: {features[column][asset]} against {value}")
        self.assertIn("lag_1_rsi_14", http)  # the model's inputs, added to the grid's spec

    def test_stream_yields_the_prediction_of_a_bar_ingested_after_it_opened(self):
        _, asset, bars = self.served(30)
        later = daily_bars(asset, 31).iloc[[-1]]
        with self.grid.stream([asset]) as stream, concurrent.futures.ThreadPoolExecutor(1) as pool:
            self.assertIsInstance(stream, PredictionStream)
            arrived = pool.submit(next, stream)
            self.assertEqual(self.grid.ingest(later).accepted, 1)
            try:
                streamed = arrived.result(timeout=120)
            finally:
                stream.close()  # ends the wait above, if it is still waiting
        self.assertEqual((streamed.asset, streamed.as_of), (asset, later.timestamp.iloc[0].tz_localize("UTC")))
        self.assertEqual(streamed.value, self.grid.predict(asset).value[0])

    def test_a_closed_stream_ends_iteration(self):
        _, asset, _ = self.served(3)
        stream = self.grid.stream(asset)
        stream.close()
        self.assertEqual(list(stream), [])

    def test_a_bad_asset_is_invalid_argument_and_an_unknown_one_not_found(self):
        for call in (self.grid.predict, self.grid.features, self.grid.drift):
            with self.subTest(call=call.__name__):
                with self.assertRaises(GridError) as bad:
                    call("BAD ASSET")
                self.assertEqual(bad.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
                self.assertIn("white space", bad.exception.message)
                with self.assertRaises(GridError) as unknown:
                    call(unique("NONE"))
                self.assertEqual(unknown.exception.code, grpc.StatusCode.NOT_FOUND)
        with self.assertRaises(GridError) as streamed:
            next(iter(self.grid.stream("BAD ASSET")))
        self.assertEqual(streamed.exception.code, grpc.StatusCode.INVALID_ARGUMENT)

    def test_predict_can_keep_the_assets_it_cannot_predict_as_rows_with_their_error(self):
        _, asset, _ = self.served(10)
        missing = unique("NONE")
        rows = self.grid.predict([missing, asset], errors="include")
        self.assertEqual(list(rows.asset), [missing, asset])
        self.assertEqual(list(rows.error_code), ["NOT_FOUND", None])
        self.assertTrue(math.isnan(rows.value[0]) and not math.isnan(rows.value[1]))

    def test_keys_and_roles_are_the_grids(self):
        _, asset, _ = self.served(5)
        with Grid(TARGET, api_key="", tls_ca=CA) as anonymous, Grid(TARGET, api_key=READER, tls_ca=CA) as reader:
            with self.assertRaises(GridError) as refused:
                anonymous.predict(asset)
            self.assertEqual(refused.exception.code, grpc.StatusCode.UNAUTHENTICATED)
            self.assertEqual(reader.predict(asset).asset[0], asset)
            with self.assertRaises(GridError) as denied:
                reader.ingest(daily_bars(asset, 6))
            self.assertEqual(denied.exception.code, grpc.StatusCode.PERMISSION_DENIED)

    def test_a_grid_behind_tls_is_refused_without_its_ca(self):
        with Grid(TARGET, api_key=ADMIN) as untrusting:  # the system's roots only
            with self.assertRaises(GridError) as refused:
                untrusting.models()
            self.assertEqual(refused.exception.code, grpc.StatusCode.UNAVAILABLE)

    def test_the_registry_aliases_splits_and_shadows(self):
        name = unique("py")
        registered = self.grid.register(name, "v1", MODEL, alias="champion", tags={"team": "quant"})
        self.assertEqual((registered["name"], registered["version"], registered["kind"], registered["tags"]),
                         (name, "v1", "xgboost", {"team": "quant"}))
        self.grid.register(name, "v2", MODEL)
        deployment = self.grid.set_split(name, "champion", "v2", 0.25)
        self.assertEqual(deployment["aliases"]["champion"],
                         {"version": "v1", "split_version": "v2", "split_weight": 0.25, "auto_promote": False})
        self.assertEqual(self.grid.set_split(name, "champion", "v2", 0)["aliases"]["champion"]["split_version"], "")
        self.assertEqual(self.grid.set_shadow(name, "v2")["shadows"], ["v2"])
        self.assertEqual(self.grid.set_alias(name, "challenger", "v2")["aliases"]["challenger"]["version"], "v2")
        self.assertNotIn("challenger", self.grid.remove_alias(name, "challenger")["aliases"])
        model = self.grid.model(name)
        self.assertEqual((model["name"], model["shadows"], list(model["aliases"])), (name, ["v2"], ["champion"]))
        listed = self.grid.models()
        mine = listed[listed.name == name].set_index("version")
        self.assertEqual(list(mine.index), ["v1", "v2"])
        self.assertEqual((mine.aliases["v1"], mine.shadow["v1"], mine.shadow["v2"]), (["champion"], False, True))
        self.assertEqual(mine.sha256["v1"], mine.sha256["v2"])
        with self.assertRaises(GridError) as unknown:
            self.grid.set_alias(name, "champion", "v9")
        self.assertEqual(unknown.exception.code, grpc.StatusCode.NOT_FOUND)

    def test_scores_count_an_outcome_for_every_bar_but_the_last_and_the_gate_wants_more_pairs(self):
        name, asset, bars = self.served(40, shadow=True)
        scores = self.grid.scores(name, asset=asset).set_index("version")
        self.assertEqual(list(scores.role), ["served", "shadow"])
        self.assertEqual(list(scores.outcomes), [39, 39])  # horizon 1: the last bar's outcome is still to come
        self.assertEqual(list(scores.label), ["up_1", "up_1"])
        self.assertEqual(scores.accuracy["v1"], scores.hits["v1"] / 39)
        pairs = self.grid.score_pairs(name, asset=asset)
        self.assertEqual((pairs.champion[0], pairs.challenger[0], pairs.pairs[0]), ("v1", "v2", 39))
        decision = self.grid.promote(name, "v2")
        self.assertEqual((decision["champion"], decision["challenger"], decision["promoted"]), ("v1", "v2", False))
        self.assertTrue(decision["reason"])
        self.assertEqual(self.grid.model(name)["aliases"]["champion"]["version"], "v1")

    def test_drift_equals_what_http_drift_says(self):
        name, asset, _ = self.served(WINDOW + 10, profile=True)
        features = self.grid.model(name)["versions"].feature_names[0]
        drift = self.grid.drift(asset)
        http = http_get(f"/drift/{urllib.parse.quote(asset, safe='')}")
        self.assertEqual((drift["asset"], drift["model"], drift["version"], drift["status"], drift["count"]),
                         (asset, name, "v1", "ok", WINDOW))
        self.assertEqual(list(drift["features"].name), features + ["prediction"])
        expected = {series["name"]: series for series in http["features"] + [http["prediction"]]}
        for row in drift["features"].itertuples():
            for field, key in (("psi", "psi"), ("js", "js"), ("p_value", "pValue"), ("wasserstein", "wasserstein")):
                self.assertTrue(same_number(getattr(row, field), expected[row.name][key]), f"{row.name} {field}")
            self.assertEqual(row.drifting, expected[row.name]["drifting"])
        # Random normal rows as the reference: rsi_14 (0 to 100) cannot look like them.
        self.assertTrue(drift["drifting"] and http["drifting"])
        self.assertEqual(drift["quality"]["bars"], WINDOW + 10)

    def test_retraining_jobs_start_list_get_and_cancel(self):
        name, asset, _ = self.served(10)
        started = self.grid.start_retrain(name, assets=[asset], reason="from python")
        self.assertTrue(started["started"], started["reason"])
        job = started["job"]
        self.assertEqual((job["name"], job["trigger"], job["reason"], job["assets"]), (name, "manual", "from python", [asset]))
        held = self.grid.start_retrain(name)  # one active job per model name
        self.assertFalse(held["started"])
        self.assertEqual(held["job"]["id"], job["id"])
        self.assertEqual(list(self.grid.retrain_jobs(name).id), [job["id"]])
        self.assertEqual(self.grid.retrain_job(name, job["id"])["state"], "waiting")  # this grid has no worker silo
        self.assertEqual(self.grid.cancel_retrain(name, job["id"])["state"], "cancelled")
        with self.assertRaises(GridError) as unknown:
            self.grid.retrain_job(name, "no-such-job")
        self.assertEqual(unknown.exception.code, grpc.StatusCode.NOT_FOUND)


if __name__ == "__main__":
    unittest.main()

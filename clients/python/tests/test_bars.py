"""A DataFrame of bars is checked before anything is sent: each error names the column, and the row where there is one.
These need no grid."""

import unittest

import pandas as pd

from marketintel import Grid
from marketintel.bars import by_asset


def frame(**changes):
    bars = pd.DataFrame({
        "asset": ["B", "A", "A"],
        "timestamp": pd.to_datetime(["2024-01-03", "2024-01-03", "2024-01-02"]),
        "open": [10.0, 20.0, 19.0], "high": [11.0, 21.0, 20.0], "low": [9.0, 19.5, 18.0],
        "close": [10.5, 20.5, 19.5], "volume": [100, 200, 150],
    }, index=["x", "y", "z"])
    for column, values in changes.items():
        bars[column] = values
    return bars


class BarFrameTests(unittest.TestCase):
    def test_bars_are_grouped_by_asset_in_time_order_with_naive_times_read_as_utc_milliseconds(self):
        grouped = by_asset(frame())
        self.assertEqual([asset for asset, _ in grouped], ["B", "A"])
        self.assertEqual(grouped[1][1], [(1704153600000, 19.0, 20.0, 18.0, 19.5, 150.0),
                                         (1704240000000, 20.0, 21.0, 19.5, 20.5, 200.0)])

    def test_a_time_with_an_offset_is_converted_to_utc(self):
        times = pd.to_datetime(["2024-01-03 01:00", "2024-01-03 01:00", "2024-01-02 01:00"]).tz_localize("Europe/Zurich")
        self.assertEqual(by_asset(frame(timestamp=times))[0][1][0][0], 1704240000000)

    def test_integer_unix_milliseconds_are_taken_as_they_are(self):
        grouped = by_asset(frame(timestamp=[1732838400000, 1732838400000, 1732752000000]))
        self.assertEqual([row[0] for row in grouped[1][1]], [1732752000000, 1732838400000])

    def test_column_names_match_in_any_case(self):
        bars = frame().rename(columns={"close": "Close", "asset": "ASSET"})
        self.assertEqual(by_asset(bars)[0][1][0][4], 10.5)

    def test_a_missing_column_is_named(self):
        with self.assertRaisesRegex(ValueError, r"^bars: missing column\(s\) volume \(needs asset, timestamp, open"):
            by_asset(frame().drop(columns=["volume"]))

    def test_a_missing_price_names_its_column_and_row(self):
        with self.assertRaisesRegex(ValueError, r"^bars: row 1 \(index 'y'\): close is missing \(NaN\)$"):
            by_asset(frame(close=[10.5, float("nan"), 19.5]))

    def test_a_column_of_text_is_refused_by_name(self):
        with self.assertRaisesRegex(ValueError, r"^bars: column 'high' is object, not numbers$"):
            by_asset(frame(high=["11", "21", "20"]))

    def test_unix_seconds_are_refused_with_the_row_rather_than_read_as_1970(self):
        with self.assertRaisesRegex(ValueError, r"^bars: row 0 \(index 'x'\): timestamp 1732838400 is not a time"):
            by_asset(frame(timestamp=[1732838400, 1732838400, 1732752000]))

    def test_times_as_text_are_refused_with_the_way_to_convert_them(self):
        with self.assertRaisesRegex(ValueError, r"column 'timestamp' is object: give datetime64 values \(pandas.to_datetime\)"):
            by_asset(frame(timestamp=["2024-01-03", "2024-01-03", "2024-01-02"]))

    def test_a_missing_time_names_its_row(self):
        with self.assertRaisesRegex(ValueError, r"^bars: row 2 \(index 'z'\): timestamp is missing \(NaT\)$"):
            by_asset(frame(timestamp=pd.to_datetime(["2024-01-03", "2024-01-03", None])))

    def test_an_asset_that_is_not_a_string_names_its_row(self):
        with self.assertRaisesRegex(ValueError, r"^bars: row 1 \(index 'y'\): asset None is not a symbol"):
            by_asset(frame(asset=["B", None, "A"]))

    def test_something_other_than_a_data_frame_is_a_type_error(self):
        with self.assertRaisesRegex(TypeError, "expected a pandas DataFrame, got list"):
            by_asset([1, 2])


class TargetTests(unittest.TestCase):
    def test_a_target_without_the_grpc_scheme_is_refused(self):
        with self.assertRaisesRegex(ValueError, "must look like grpc://HOST:PORT or grpcs://HOST:PORT"):
            Grid("http://127.0.0.1:5080")

    def test_a_ca_for_a_target_without_tls_is_refused(self):
        with self.assertRaisesRegex(ValueError, "tls_ca applies to grpcs:// targets"):
            Grid("grpc://127.0.0.1:5081", tls_ca="ca.pem")


if __name__ == "__main__":
    unittest.main()

"""A DataFrame of bars checked and turned into IngestBars messages."""

import pandas as pd
from pandas.api import types

COLUMNS = ("asset", "timestamp", "open", "high", "low", "close", "volume")
PRICES = ("open", "high", "low", "close", "volume")
# As `marketintel ingest` reads a file: a whole number below this (1973-03-03 in Unix ms) is a day or row number, or
# Unix seconds, never a bar time the grid should show as a date in January 1970.
SMALLEST_MILLISECONDS = 100_000_000_000


def _where(bars, position):
    return f"row {position} (index {bars.index[position]!r})"


def _columns(bars):
    """Each needed column's name in the frame, matched case-insensitively as the bar CSV's header is."""
    by_lower = {}
    for name in bars.columns:
        key = str(name).lower()
        if key in by_lower:
            raise ValueError(f"bars: columns {by_lower[key]!r} and {name!r} both name '{key}'")
        by_lower[key] = name
    missing = [c for c in COLUMNS if c not in by_lower]
    if missing:
        raise ValueError(f"bars: missing column(s) {', '.join(missing)} (needs {', '.join(COLUMNS)})")
    return {c: by_lower[c] for c in COLUMNS}


def _milliseconds(bars, column):
    values = bars[column]
    if types.is_datetime64_any_dtype(values):
        # Naive times are UTC, as the grid reads a time without an offset.
        utc = values.dt.tz_convert("UTC") if values.dt.tz is not None else values.dt.tz_localize("UTC")
        missing = utc.isna().to_numpy()
        if missing.any():
            raise ValueError(f"bars: {_where(bars, int(missing.argmax()))}: timestamp is missing (NaT)")
        return (utc.dt.tz_localize(None).astype("datetime64[ns]").astype("int64") // 1_000_000).to_numpy()
    if types.is_integer_dtype(values) and not types.is_bool_dtype(values):
        small = (values < SMALLEST_MILLISECONDS).to_numpy()
        if small.any():
            position = int(small.argmax())
            raise ValueError(
                f"bars: {_where(bars, position)}: timestamp {values.iloc[position]} is not a time: integers are Unix "
                "milliseconds from 1973-03-03 on (is it a day number, or Unix seconds?)")
        return values.to_numpy(dtype="int64")
    raise ValueError(
        f"bars: column '{column}' is {values.dtype}: give datetime64 values (pandas.to_datetime) or integer Unix "
        "milliseconds")


def _numbers(bars, column):
    values = bars[column]
    if not types.is_numeric_dtype(values) or types.is_bool_dtype(values):
        raise ValueError(f"bars: column '{column}' is {values.dtype}, not numbers")
    numbers = values.to_numpy(dtype="float64")
    missing = pd.isna(numbers)
    if missing.any():
        raise ValueError(f"bars: {_where(bars, int(missing.argmax()))}: {column} is missing (NaN)")
    return numbers


def _assets(bars, column):
    values = bars[column].to_numpy(dtype=object)
    for position, value in enumerate(values):
        if not isinstance(value, str) or not value:
            raise ValueError(f"bars: {_where(bars, position)}: asset {value!r} is not a symbol (a non-empty string)")
    return values


def by_asset(bars):
    """The frame's bars as (asset, [(timestamp ms, open, high, low, close, volume), ...]) in time order per asset.

    Raises TypeError for something other than a DataFrame and ValueError naming the column, and the row where there is
    one, for a missing column, a column of the wrong type or a missing value. Whether a bar is valid (prices above
    zero, low at most high...) is the grid's one rule: it reports such bars as rejections, it does not fail the call.
    """
    if not isinstance(bars, pd.DataFrame):
        raise TypeError(f"bars: expected a pandas DataFrame, got {type(bars).__name__}")
    names = _columns(bars)
    assets = _assets(bars, names["asset"])
    times = _milliseconds(bars, names["timestamp"])
    prices = [_numbers(bars, names[c]) for c in PRICES]
    rows = {}
    for position, asset in enumerate(assets):
        rows.setdefault(asset, []).append((int(times[position]), *(float(p[position]) for p in prices)))
    # Each IngestBars message carries one asset's bars in time order; sorted() is stable, so equal times keep order.
    return [(asset, sorted(asset_rows, key=lambda row: row[0])) for asset, asset_rows in rows.items()]

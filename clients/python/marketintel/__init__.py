"""Python client of the MarketIntel prediction grid: `Grid(target)` with pandas DataFrames in and out.

    from marketintel import Grid
    grid = Grid("grpc://127.0.0.1:5081")
    grid.ingest(bars)                # a DataFrame: asset, timestamp, open, high, low, close, volume
    grid.predict(["MSFT", "TTRC"])   # a DataFrame, a row per asset
"""

from .convert import Prediction
from .errors import GridError
from .grid import Grid, IngestResult, PredictionStream

__all__ = ["Grid", "GridError", "IngestResult", "Prediction", "PredictionStream"]

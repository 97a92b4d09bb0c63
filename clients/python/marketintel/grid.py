"""Grid: one connection to a MarketIntel grid over gRPC, with DataFrames in and out."""

import os

import grpc
import pandas as pd

from . import bars as bar_frames
from .convert import Prediction, frame, prediction, timestamp, to_dict, version_dict, versions
from .errors import GridError

try:
    from ._proto import drift_pb2, drift_pb2_grpc, marketintel_pb2 as pb, marketintel_pb2_grpc as pb_grpc
    from ._proto import model_scores_pb2, model_scores_pb2_grpc, retrain_pb2, retrain_pb2_grpc
except ImportError as missing:  # a source checkout: the stubs exist only in an installed (built) package
    raise ImportError(
        "marketintel: the gRPC stubs are not generated; install the package (pip install ./clients/python), whose "
        f"build step makes them from the grid's .proto files ({missing})") from missing

API_KEY_VARIABLE = "MARKETINTEL_API_KEY"
# A model registration carries the whole model; the grid accepts messages up to Limits:MaxGrpcMessageBytes (64 MiB).
MESSAGE_BYTES = 64 * 1024 * 1024
# Bars per IngestBars message and per call: the CLI's message size, and calls well under Limits:MaxBarsPerStream.
BARS_PER_MESSAGE = 500
BARS_PER_CALL = 100_000


def _assets(assets):
    """One symbol or several, as a list."""
    return [assets] if isinstance(assets, str) else list(assets)


class PredictionStream:
    """The predictions of some assets as the grid makes them (after each accepted bar or pushed vector).

    Iterate over it for `Prediction`s; it runs until closed (`close()`, or leaving a `with` block), and iteration
    then ends. Errors of the call (a bad asset, a limit) raise GridError.
    """

    def __init__(self, call):
        self._call = call
        self._closed = False

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return prediction(next(self._call))
        except grpc.RpcError as error:
            if self._closed and error.code() == grpc.StatusCode.CANCELLED:
                raise StopIteration from None
            raise GridError.from_rpc(error) from None

    def close(self):
        """Ends the stream: the grid stops sending, and iteration stops."""
        self._closed = True
        self._call.cancel()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class IngestResult:
    """What the grid made of an ingest: bars accepted, ignored (already accepted: a resend is safe) and rejected, the
    reasons for the first rejections (a DataFrame of asset and reason), and who holds the bars ("durable" in cluster
    mode, else an id of the server process, which holds them in memory only)."""

    def __init__(self, accepted, ignored, rejected, rejections, holder):
        self.accepted = accepted
        self.ignored = ignored
        self.rejected = rejected
        self.rejections = rejections
        self.holder = holder

    def __repr__(self):
        return (f"IngestResult(accepted={self.accepted}, ignored={self.ignored}, rejected={self.rejected}, "
                f"holder={self.holder!r})")


class Grid:
    """A client of the grid at `target`: grpc://HOST:PORT, or grpcs://HOST:PORT for a grid with TLS.

    api_key: sent as `authorization: Bearer KEY` on every call (default: the MARKETINTEL_API_KEY variable, as the CLI
    reads it; an empty one is none). tls_ca: a PEM file of a CA to trust for grpcs:// (default: the system's roots).
    timeout: seconds each unary call may take. Errors of the grid raise GridError(code, message).
    """

    def __init__(self, target, api_key=None, tls_ca=None, timeout=30.0):
        scheme, _, address = target.partition("://")
        if scheme.lower() not in ("grpc", "grpcs") or not address or "/" in address:
            raise ValueError(f"target '{target}' must look like grpc://HOST:PORT or grpcs://HOST:PORT")
        options = [("grpc.max_send_message_length", MESSAGE_BYTES), ("grpc.max_receive_message_length", MESSAGE_BYTES)]
        if scheme.lower() == "grpcs":
            roots = None
            if tls_ca is not None:
                with open(tls_ca, "rb") as file:
                    roots = file.read()
            self._channel = grpc.secure_channel(address, grpc.ssl_channel_credentials(roots), options)
        elif tls_ca is not None:
            raise ValueError(f"tls_ca applies to grpcs:// targets; '{target}' is not one")
        else:
            self._channel = grpc.insecure_channel(address, options)
        key = api_key if api_key is not None else os.environ.get(API_KEY_VARIABLE, "")
        self._metadata = (("authorization", f"Bearer {key}"),) if key else ()
        self._timeout = timeout
        self._grid = pb_grpc.GridStub(self._channel)
        self._models = pb_grpc.ModelsStub(self._channel)
        self._scores = model_scores_pb2_grpc.ScoresStub(self._channel)
        self._drift = drift_pb2_grpc.DriftStub(self._channel)
        self._retrain = retrain_pb2_grpc.RetrainStub(self._channel)

    def close(self):
        """Closes the connection (open streams end)."""
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _call(self, method, request):
        try:
            return method(request, timeout=self._timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            raise GridError.from_rpc(error) from None

    # Bars, predictions and features

    def ingest(self, bars):
        """Sends a DataFrame of bars (columns asset, timestamp, open, high, low, close, volume; any order, any case;
        timestamp as datetime64, naive = UTC, or integer Unix milliseconds) and returns an IngestResult.

        Each asset's bars are sent in time order. A bad frame raises ValueError naming the column and row, before
        anything is sent; a bar the grid finds invalid is a rejection in the result. Resending is safe: bars already
        accepted come back as ignored.
        """
        grouped = bar_frames.by_asset(bars)
        chunks = [(asset, rows[i:i + BARS_PER_MESSAGE]) for asset, rows in grouped
                  for i in range(0, len(rows), BARS_PER_MESSAGE)]
        per_call = BARS_PER_CALL // BARS_PER_MESSAGE
        accepted = ignored = rejected = 0
        rejections = []
        holder = ""
        for first in range(0, max(len(chunks), 1), per_call):
            # Later calls name the holder that acknowledged the earlier ones: a grid that restarted in between
            # (holding none of them) refuses with FAILED_PRECONDITION rather than let them be counted as kept.
            messages = [pb.IngestBarsRequest(asset=asset, bars=[pb.Bar(timestamp=t, open=o, high=h, low=l, close=c, volume=v)
                                                                 for t, o, h, l, c, v in rows], expected_holder=holder)
                        for asset, rows in chunks[first:first + per_call]]
            reply = self._call(self._grid.IngestBars, iter(messages))
            accepted, ignored, rejected = accepted + reply.accepted, ignored + reply.ignored, rejected + reply.rejected
            rejections.extend({"asset": r.asset, "reason": r.reason} for r in reply.rejections)
            holder = reply.holder
        return IngestResult(accepted, ignored, rejected, frame(rejections, ("asset", "reason")), holder)

    def predict(self, assets, errors="raise"):
        """The latest prediction of each asset (one symbol or several), a DataFrame with a row per asset in the order
        asked: asset, value, values, model, version, as_of.

        errors="raise": the first asset the grid cannot predict raises its GridError (INVALID_ARGUMENT, NOT_FOUND,
        FAILED_PRECONDITION...). errors="include": such assets keep their row, with error_code and error set.
        """
        if errors not in ("raise", "include"):
            raise ValueError(f"errors must be 'raise' or 'include', not {errors!r}")
        reply = self._call(self._grid.PredictBatch, pb.PredictBatchRequest(assets=_assets(assets)))
        rows = []
        for result in reply.results:
            if result.error_code and errors == "raise":
                raise GridError.from_name(result.error_code, result.error)
            if result.error_code:
                row = Prediction(result.asset, float("nan"), (), "", "", None)._asdict()
            else:
                row = prediction(result.prediction)._asdict()
            if errors == "include":
                row.update(error_code=result.error_code or None, error=result.error or None)
            rows.append(row)
        columns = Prediction._fields + (("error_code", "error") if errors == "include" else ())
        return frame(rows, columns)

    def features(self, assets):
        """Each asset's latest computed features, a DataFrame indexed by asset: as_of (the last bar's time), then the
        features by name in the asset's order (NaN while one warms up)."""
        rows = []
        for asset in _assets(assets):
            reply = self._call(self._grid.GetFeatures, pb.GetFeaturesRequest(asset=asset))
            rows.append({"asset": reply.asset, "as_of": timestamp(reply.as_of), **dict(zip(reply.names, reply.values))})
        return pd.DataFrame(rows).set_index("asset")

    def stream(self, assets):
        """A PredictionStream of these assets' new predictions. It is open when this returns: every prediction made
        from then on comes through it."""
        call = self._grid.StreamPredictions(pb.StreamPredictionsRequest(assets=_assets(assets)), metadata=self._metadata)
        try:
            # The grid sends its headers once it watches the assets (or at once with an error).
            call.initial_metadata()
            if call.done() and call.code() != grpc.StatusCode.OK:
                raise GridError(call.code(), call.details() or "")
        except grpc.RpcError as error:
            raise GridError.from_rpc(error) from None
        return PredictionStream(call)

    # The model registry

    def register(self, name, version, model, lineage=None, tags=None, alias=None):
        """Registers a model version: `model` is the model's bytes or a path to its file (XGBoost JSON or ONNX);
        lineage a JSON string; alias an alias to point at it. Returns the version as a dict."""
        if isinstance(model, (str, os.PathLike)):
            with open(model, "rb") as file:
                model = file.read()
        request = pb.RegisterVersionRequest(name=name, version=version, model=model, lineage=lineage or "",
                                            tags=tags or {}, alias=alias or "")
        return version_dict(self._call(self._models.Register, request))

    def set_profile(self, name, version, profile=None, matrix=None, bins=0):
        """Gives a version its reference profile for drift, once: `profile` as JSON, or `matrix`, a DataFrame of
        feature rows (columns named as the model's features, NaN = missing) that the grid bins at its quantiles (bins
        per feature, 0: 20) together with the version's own predictions on them. Returns the version as a dict."""
        if (profile is None) == (matrix is None):
            raise ValueError("set_profile: give either profile (JSON) or matrix (a DataFrame of feature rows)")
        request = pb.SetProfileRequest(name=name, version=version, bins=bins)
        if profile is not None:
            request.profile = profile
        else:
            request.matrix_csv = matrix.to_csv(index=False, na_rep="")
        return version_dict(self._call(self._models.SetProfile, request))

    def assign(self, assets, name, version, make_default=False):
        """Serves these assets with a version (or an alias, "@champion") from their next prediction on; with
        make_default also for assets with no assignment."""
        request = pb.AssignModelRequest(assets=_assets(assets), name=name, version=version, make_default=make_default)
        self._call(self._grid.AssignModel, request)

    def models(self):
        """Every model name's versions, a DataFrame with a row per version (with the aliases naming it and whether it
        is a shadow)."""
        reply = self._call(self._models.List, pb.ListModelsRequest())
        return pd.concat([versions(model) for model in reply.models], ignore_index=True) if reply.models \
            else versions(pb.RegisteredModel())

    def model(self, name):
        """One model name: a dict of its versions (a DataFrame as models() shows them), aliases, shadows and epoch."""
        reply = self._call(self._models.Get, pb.GetModelRequest(name=name))
        return {**to_dict(reply.deployment), "name": reply.name, "versions": versions(reply)}

    def set_alias(self, name, alias, version):
        """Points an alias at a version (ending any split of it); returns the deployment as a dict."""
        return to_dict(self._call(self._models.SetAlias, pb.SetAliasRequest(name=name, alias=alias, version=version)))

    def remove_alias(self, name, alias):
        """Removes an alias; returns the deployment."""
        return to_dict(self._call(self._models.RemoveAlias, pb.RemoveAliasRequest(name=name, alias=alias)))

    def set_split(self, name, alias, version, weight):
        """Serves `weight` of an alias's assets with a second version (0 ends the split); returns the deployment."""
        request = pb.SetSplitRequest(name=name, alias=alias, version=version, weight=weight)
        return to_dict(self._call(self._models.SetSplit, request))

    def set_shadow(self, name, version, shadow=True):
        """Makes a version a shadow of its model name (shadow=False: stops it being one); returns the deployment."""
        request = pb.SetShadowRequest(name=name, version=version, shadow=shadow)
        return to_dict(self._call(self._models.SetShadow, request))

    def promote(self, name, challenger, alias="champion"):
        """Runs the promotion gate on a challenger against the version the alias names; the alias moves only when
        the gate passes. Returns the decision as a dict (promoted, reason, pairs, statistics...)."""
        request = pb.PromoteRequest(name=name, challenger=challenger, alias=alias)
        return to_dict(self._call(self._models.Promote, request))

    # Scores, drift and retraining

    def scores(self, name, asset=None):
        """A model name's live outcome scores, a row per version: role, label, outcomes, hits, accuracy, log_loss,
        brier, squared_error (NaN where there is none). Over every asset as last stored, or one asset as it is now."""
        reply = self._call(self._scores.GetScores, model_scores_pb2.GetScoresRequest(name=name, asset=asset or ""))
        columns = [f.name for f in model_scores_pb2.VersionScore.DESCRIPTOR.fields]
        return frame([to_dict(v) for v in reply.versions], columns)

    def score_pairs(self, name, asset=None):
        """The served version paired with each shadow of the same label, a row per pair (McNemar's counts and the
        mean loss difference, positive where the challenger did better)."""
        reply = self._call(self._scores.GetScores, model_scores_pb2.GetScoresRequest(name=name, asset=asset or ""))
        columns = [f.name for f in model_scores_pb2.PairScore.DESCRIPTOR.fields]
        return frame([to_dict(p) for p in reply.pairs], columns)

    def drift(self, asset):
        """One asset's drift as its grain holds it: a dict of asset, model, version, status, window, count,
        drifting, features (a DataFrame, a row per series, the prediction last), quality and concept."""
        reply = self._call(self._drift.GetAssetDrift, drift_pb2.GetAssetDriftRequest(asset=asset))
        result = to_dict(reply)
        prediction_drift = result.pop("prediction")
        series = result.pop("features") + ([prediction_drift] if prediction_drift is not None else [])
        result["features"] = frame(series, [f.name for f in drift_pb2.FeatureDrift.DESCRIPTOR.fields])
        return result

    def start_retrain(self, name, assets=(), spec="", label="", force=False, reason=""):
        """Asks for a retraining job of a model name. Returns a dict: started, reason (why, or why not: one active
        job per model and a minimum interval unless force) and job (the job started or the one holding it back)."""
        request = retrain_pb2.StartRetrainRequest(name=name, assets=_assets(assets), spec=spec, label=label,
                                                  force=force, reason=reason)
        return to_dict(self._call(self._retrain.Start, request))

    def retrain_jobs(self, name, limit=0):
        """A model name's retraining jobs, newest first (limit 0: 100), a DataFrame with a row per job."""
        reply = self._call(self._retrain.List, retrain_pb2.ListRetrainJobsRequest(name=name, limit=limit))
        columns = [f.name for f in retrain_pb2.RetrainJob.DESCRIPTOR.fields]
        return frame([to_dict(job) for job in reply.jobs], columns)

    def retrain_job(self, name, job_id):
        """One retraining job as a dict (state, detail, progress, version...)."""
        return to_dict(self._call(self._retrain.Get, retrain_pb2.RetrainJobRequest(name=name, id=job_id)))

    def cancel_retrain(self, name, job_id):
        """Cancels an active job (a final one stays as it is); returns its record."""
        return to_dict(self._call(self._retrain.Cancel, retrain_pb2.RetrainJobRequest(name=name, id=job_id)))

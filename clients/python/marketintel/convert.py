"""Protobuf messages turned into the plain Python values and DataFrames the client returns."""

from typing import NamedTuple

import pandas as pd
from google.protobuf.descriptor import FieldDescriptor

# Fields that hold Unix milliseconds: returned as UTC pandas Timestamps (None where the grid sends 0, "none").
TIME_FIELDS = frozenset({"as_of", "created_at", "updated_at", "finished_at", "decided_at", "at", "through"})


def timestamp(milliseconds):
    """A UTC Timestamp for Unix milliseconds, None for 0."""
    return pd.Timestamp(milliseconds, unit="ms", tz="UTC") if milliseconds else None


def to_dict(message):
    """Every field of the message by its proto name: nested messages as dicts (None when unset), repeated fields as
    lists, maps as dicts, times as Timestamps. Unlike protobuf's json_format, 64-bit integers stay ints."""
    result = {}
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            entry = field.message_type.fields_by_name["value"]
            result[field.name] = {k: to_dict(v) if entry.message_type else v for k, v in value.items()}
        elif field.label == FieldDescriptor.LABEL_REPEATED:
            result[field.name] = [to_dict(v) if field.message_type else v for v in value]
        elif field.message_type is not None:
            result[field.name] = to_dict(value) if message.HasField(field.name) else None
        elif field.name in TIME_FIELDS:
            result[field.name] = timestamp(value)
        else:
            result[field.name] = value
    return result


class Prediction(NamedTuple):
    """One prediction: the first output (`value`: probability of class 1, or the regression value), every output,
    the model's name and version, and the time of the bar (or push) its inputs are from."""

    asset: str
    value: float
    values: tuple
    model: str
    version: str
    as_of: pd.Timestamp


def prediction(message):
    return Prediction(message.asset, message.value, tuple(message.values), message.model, message.version,
                      timestamp(message.as_of))


def frame(rows, columns):
    """A DataFrame of rows (dicts) with these columns, in this order, also when there are no rows."""
    return pd.DataFrame([{c: row[c] for c in columns} for row in rows], columns=list(columns))


VERSION_COLUMNS = ("name", "version", "kind", "label", "feature_count", "feature_names", "output_names", "sha256",
                   "created_at", "tags", "has_profile", "lineage", "aliases", "shadow")


def version_dict(message):
    """A ModelVersion as one flat dict: its ModelInfo's fields (name, version, kind, feature_names...) beside its own."""
    result = to_dict(message)
    result.update(result.pop("info") or {})
    return result


def versions(model):
    """A RegisteredModel's versions, a row each, with the aliases naming each and whether it is a shadow."""
    deployment = model.deployment
    rows = []
    for version in model.versions:
        row = version_dict(version)
        row["aliases"] = sorted(a for a, info in deployment.aliases.items() if info.version == version.info.version)
        row["shadow"] = version.info.version in deployment.shadows
        rows.append(row)
    return frame(rows, VERSION_COLUMNS)

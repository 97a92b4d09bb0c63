-- Reference profiles for drift (issue 21): a version registered without one in its lineage can be given one later,
-- once. Stored as the JSON text the registry checked (quantile bin edges and counts per feature and for the
-- prediction), readable by other tools with plain SQL; null while the version has none of its own.
ALTER TABLE models ADD COLUMN profile text;

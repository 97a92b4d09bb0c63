-- Fences the bar archive's writers: the latest claim on each asset. An asset grain's activation claims its asset
-- (epoch + 1) before it reads the asset's bars; appends carry the epoch of the activation that makes them, and the
-- archive stores none under an older epoch, so two overlapping activations of one asset cannot both add bars.
CREATE TABLE asset_writers (
    asset  text   PRIMARY KEY,
    epoch  bigint NOT NULL CHECK (epoch > 0)
);

-- The latest feature-state checkpoint of each asset (its streaming features after the bar at `through`), so an
-- activation replays only the bars after it. Written by the asset's current writer, and only forward.
CREATE TABLE asset_checkpoints (
    asset     text        PRIMARY KEY,
    through   bigint      NOT NULL,
    state     bytea       NOT NULL,
    saved_at  timestamptz NOT NULL
);

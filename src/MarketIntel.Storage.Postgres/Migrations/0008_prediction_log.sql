-- The prediction log (issue 20): in cluster mode every prediction an asset grain makes on a bar, the served version's
-- value and each shadow's, one row per asset and bar, written by group commit after the bar is archived. Kept for
-- Postgres:PredictionLogRetention after it was logged: each silo deletes older rows every
-- Postgres:PredictionLogSweepInterval, through the BRIN index on logged_at (rows arrive in logged_at order, so a
-- block range index is a few pages, costs inserts next to nothing, and finds the old end of the table quickly).
-- A value is null where that version made no prediction on the bar (its inputs were not ready yet).
CREATE TABLE prediction_log (
    asset            text        NOT NULL,
    ts               bigint      NOT NULL,
    name             text        NOT NULL,
    served_version   text        NOT NULL,
    served_value     real,
    shadow_versions  text[]      NOT NULL,
    shadow_values    real[]      NOT NULL,
    logged_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (asset, ts)
);

CREATE INDEX prediction_log_logged_at ON prediction_log USING brin (logged_at);

-- Drift windows (issue 21): each asset grain's window of its served version's inputs and prediction, counted over
-- the bins of the version's reference profile, written every Grid:Drift:FlushInterval and as the grain deactivates.
-- One row per asset, replaced by each write (a window counts for one version at a time). The series' counts are laid
-- out flat: series i has bins[i] counts, then the next series'; missing[i] is its missing values.
CREATE TABLE drift_windows (
    asset        text      NOT NULL PRIMARY KEY,
    name         text      NOT NULL,
    version      text      NOT NULL,
    window_bars  integer   NOT NULL CHECK (window_bars >= 1),
    count        integer   NOT NULL CHECK (count >= 0 AND count <= window_bars),
    series       text[]    NOT NULL,
    bins         integer[] NOT NULL,
    counts       integer[] NOT NULL,
    missing      integer[] NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (cardinality(series) = cardinality(bins) AND cardinality(series) = cardinality(missing))
);

CREATE INDEX drift_windows_name ON drift_windows (name);

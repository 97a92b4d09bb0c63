-- Grain state written through Orleans' IGrainStorage: one row per grain and state name, with an ETag (a
-- version number) that every write must name, so two activations of one grain cannot overwrite each other.
CREATE TABLE grain_state (
    service_id  text        NOT NULL,
    grain_id    text        NOT NULL,
    state_name  text        NOT NULL,
    etag        bigint      NOT NULL,
    payload     bytea       NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (service_id, grain_id, state_name)
);

-- Every accepted bar, once: the source the asset grains rebuild their features from, and the data for
-- backtests and retraining. Timestamps are Unix milliseconds, as in the API.
CREATE TABLE bars (
    asset   text   NOT NULL,
    ts      bigint NOT NULL,
    open    double precision NOT NULL,
    high    double precision NOT NULL,
    low     double precision NOT NULL,
    close   double precision NOT NULL,
    volume  double precision NOT NULL,
    PRIMARY KEY (asset, ts)
);

-- The model registry: immutable versions with their bytes and what loading them found.
CREATE TABLE models (
    name           text        NOT NULL,
    version        text        NOT NULL,
    kind           text        NOT NULL,
    feature_names  text[],
    feature_count  integer     NOT NULL,
    output_names   text[]      NOT NULL,
    sha256         text        NOT NULL,
    bytes          bytea       NOT NULL,
    registered_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, version)
);

-- The default model for assets with no assignment: at most one row.
CREATE TABLE model_default (
    id          integer PRIMARY KEY CHECK (id = 1),
    name        text    NOT NULL,
    version     text    NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (name, version) REFERENCES models (name, version)
);

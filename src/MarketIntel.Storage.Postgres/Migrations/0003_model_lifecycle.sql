-- The model lifecycle (issue 20): what a version carries besides its bytes, how each model name is deployed, and
-- the audit log of every change.

-- A version's label (from its lineage: up_K, logret_K), its lineage JSON as it was given (text, not jsonb, so it
-- reads back byte for byte), and its free tags.
ALTER TABLE models ADD COLUMN label text;
ALTER TABLE models ADD COLUMN lineage text;
ALTER TABLE models ADD COLUMN tags jsonb NOT NULL DEFAULT '{}';

-- The default may name an alias ('@champion'), which is no row of models: the store checks versions itself.
ALTER TABLE model_default DROP CONSTRAINT model_default_name_version_fkey;

-- One row per deployed model name; the epoch grows with every change, so silos tell a newer deployment apart.
CREATE TABLE model_deployments (
    name   text   PRIMARY KEY,
    epoch  bigint NOT NULL
);

-- Aliases: each names a version, and under an A/B split a second version serving a share of the assets.
CREATE TABLE model_aliases (
    name           text    NOT NULL REFERENCES model_deployments (name),
    alias          text    NOT NULL,
    version        text    NOT NULL,
    split_version  text,
    split_weight   double precision CHECK (split_weight > 0 AND split_weight < 1),
    auto_promote   boolean NOT NULL DEFAULT false,
    PRIMARY KEY (name, alias),
    FOREIGN KEY (name, version) REFERENCES models (name, version),
    FOREIGN KEY (name, split_version) REFERENCES models (name, version),
    CHECK ((split_version IS NULL) = (split_weight IS NULL))
);

-- Shadow versions, in the order they were added.
CREATE TABLE model_shadows (
    name      text    NOT NULL REFERENCES model_deployments (name),
    version   text    NOT NULL,
    position  integer NOT NULL,
    PRIMARY KEY (name, version),
    FOREIGN KEY (name, version) REFERENCES models (name, version)
);

-- Every change of the registry: what, to which model (and version), when, by which client, and the detail (for a
-- promotion decision, its statistics).
CREATE TABLE model_audit (
    id       bigserial   PRIMARY KEY,
    name     text        NOT NULL,
    action   text        NOT NULL,
    version  text,
    at       timestamptz NOT NULL,
    client   text        NOT NULL,
    detail   jsonb       NOT NULL
);
CREATE INDEX model_audit_by_name ON model_audit (name, id);

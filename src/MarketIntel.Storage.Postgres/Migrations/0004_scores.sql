-- Live outcome scores (issue 20): each asset grain's absolute tallies per model version and per (champion,
-- challenger) pair, written every Grid:Scoring:FlushInterval and as the grain deactivates. Rows are replaced, never
-- added to, so a repeated write changes nothing; a model name's totals are the sums over its assets.
CREATE TABLE score_outcomes (
    asset              text             NOT NULL,
    name               text             NOT NULL,
    version            text             NOT NULL,
    label_kind         text             NOT NULL CHECK (label_kind IN ('direction', 'logreturn')),
    horizon            integer          NOT NULL CHECK (horizon >= 1),
    outcomes           bigint           NOT NULL,
    hits               bigint           NOT NULL,
    log_loss_sum       double precision NOT NULL,
    brier_sum          double precision NOT NULL,
    squared_error_sum  double precision NOT NULL,
    updated_at         timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (asset, name, version)
);

CREATE INDEX score_outcomes_name ON score_outcomes (name);

-- The lag arrays hold horizon - 1 values each: lag l at index l (SQL arrays count from 1).
CREATE TABLE score_pairs (
    asset                 text               NOT NULL,
    name                  text               NOT NULL,
    champion              text               NOT NULL,
    challenger            text               NOT NULL,
    label_kind            text               NOT NULL CHECK (label_kind IN ('direction', 'logreturn')),
    horizon               integer            NOT NULL CHECK (horizon >= 1),
    pairs                 bigint             NOT NULL,
    both_hit              bigint             NOT NULL,
    champion_only_hits    bigint             NOT NULL,
    challenger_only_hits  bigint             NOT NULL,
    difference_sum        double precision   NOT NULL,
    difference_square_sum double precision   NOT NULL,
    lag_products          double precision[] NOT NULL,
    lag_leading           double precision[] NOT NULL,
    lag_trailing          double precision[] NOT NULL,
    lag_counts            bigint[]           NOT NULL,
    updated_at            timestamptz        NOT NULL DEFAULT now(),
    PRIMARY KEY (asset, name, champion, challenger)
);

CREATE INDEX score_pairs_name ON score_pairs (name);

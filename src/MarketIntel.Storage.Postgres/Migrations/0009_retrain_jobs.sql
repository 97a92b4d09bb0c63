-- Retraining jobs (issue 22): each model's coordinator writes a job's whole record on every change (accepted, waiting,
-- running with its progress, registered, promoted, rejected, failed, cancelled), so a coordinator activated again on
-- another silo carries on from here. The record is the job as JSON (RetrainJobJson: what the job's model events carry
-- too); the columns beside it are what the coordinator looks jobs up by, and what a report reads with plain SQL.
CREATE TABLE retrain_jobs (
    id          text    NOT NULL PRIMARY KEY,
    name        text    NOT NULL,
    state       text    NOT NULL,
    created_at  bigint  NOT NULL,
    updated_at  bigint  NOT NULL,
    record      jsonb   NOT NULL
);

-- A model's jobs, newest first.
CREATE INDEX retrain_jobs_name ON retrain_jobs (name, created_at DESC, id COLLATE "C" DESC);

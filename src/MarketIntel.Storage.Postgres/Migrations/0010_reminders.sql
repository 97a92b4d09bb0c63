-- Durable Orleans reminders (issue 22: the retraining schedule). Microsoft.Orleans.Reminders.AdoNet keeps no SQL of
-- its own: at start it reads its statements by key from the table OrleansQuery (it asks for `SELECT QueryKey,
-- QueryText FROM OrleansQuery`, so the table and its columns take those names, folded to lower case here), binds
-- named parameters (@ServiceId, @GrainId, @ReminderName, @StartTime, @Period, @GrainHash, @BeginHash, @EndHash,
-- @Version) and reads the result columns GrainId, ReminderName, StartTime, Period and Version by name.
--
-- The provider's contract, as its statements below keep it:
-- - a reminder is keyed by (service, grain, name); its grain hash (a uint passed as a signed int) places it on the
--   ring of silos, and a silo reads the reminders of its range (begin, end] by those signed values: begin < end is
--   one span (ReadRangeRows1Key), otherwise it wraps past the end of the int range (ReadRangeRows2Key);
-- - Period is milliseconds (an int, or a bigint past 24.8 days) and read back as a bigint; StartTime is UTC;
-- - Version is the row's etag: the upsert returns the new one, and a delete removes the row only while the caller's
--   etag is current and answers one boolean column.
CREATE TABLE orleansquery (
    querykey  text NOT NULL PRIMARY KEY,
    querytext text NOT NULL
);

CREATE TABLE orleans_reminders (
    service_id    text        NOT NULL,
    grain_id      text        NOT NULL,
    reminder_name text        NOT NULL,
    start_time    timestamptz NOT NULL,
    period        bigint      NOT NULL CHECK (period >= 0),
    grain_hash    integer     NOT NULL,
    version       integer     NOT NULL,
    PRIMARY KEY (service_id, grain_id, reminder_name)
);

-- Each silo reads the reminders of its part of the ring at start and on every refresh.
CREATE INDEX orleans_reminders_ring ON orleans_reminders (service_id, grain_hash);

INSERT INTO orleansquery (querykey, querytext) VALUES
('ReadReminderRowsKey', '
SELECT grain_id AS "GrainId", reminder_name AS "ReminderName", start_time AS "StartTime", period AS "Period", version AS "Version"
FROM orleans_reminders
WHERE service_id = @ServiceId AND grain_id = @GrainId'),

('ReadReminderRowKey', '
SELECT grain_id AS "GrainId", reminder_name AS "ReminderName", start_time AS "StartTime", period AS "Period", version AS "Version"
FROM orleans_reminders
WHERE service_id = @ServiceId AND grain_id = @GrainId AND reminder_name = @ReminderName'),

('ReadRangeRows1Key', '
SELECT grain_id AS "GrainId", reminder_name AS "ReminderName", start_time AS "StartTime", period AS "Period", version AS "Version"
FROM orleans_reminders
WHERE service_id = @ServiceId AND grain_hash > @BeginHash AND grain_hash <= @EndHash'),

('ReadRangeRows2Key', '
SELECT grain_id AS "GrainId", reminder_name AS "ReminderName", start_time AS "StartTime", period AS "Period", version AS "Version"
FROM orleans_reminders
WHERE service_id = @ServiceId AND (grain_hash > @BeginHash OR grain_hash <= @EndHash)'),

-- A new etag on every write; it wraps to 0 rather than overflow (an etag only has to differ from the last one).
('UpsertReminderRowKey', '
INSERT INTO orleans_reminders AS r (service_id, grain_id, reminder_name, start_time, period, grain_hash, version)
VALUES (@ServiceId, @GrainId, @ReminderName, @StartTime, @Period, @GrainHash, 0)
ON CONFLICT (service_id, grain_id, reminder_name) DO UPDATE
SET start_time = excluded.start_time, period = excluded.period, grain_hash = excluded.grain_hash,
    version = CASE WHEN r.version = 2147483647 THEN 0 ELSE r.version + 1 END
RETURNING r.version AS "Version"'),

('DeleteReminderRowKey', '
WITH removed AS (
    DELETE FROM orleans_reminders
    WHERE service_id = @ServiceId AND grain_id = @GrainId AND reminder_name = @ReminderName AND version = @Version
    RETURNING 1)
SELECT count(*) > 0 FROM removed'),

('DeleteReminderRowsKey', '
DELETE FROM orleans_reminders WHERE service_id = @ServiceId');

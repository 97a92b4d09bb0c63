-- The retraining trigger stream's queue (issue 22; docs/retraining.md, "Triggers: drift and the trigger stream").
-- Orleans' ADO.NET stream provider (Microsoft.Orleans.Streaming.AdoNet) keeps each stream message in a table until
-- the pulling agent that read it confirms delivery, and runs only the statements it reads from orleansquery by key.
-- The package ships no SQL; these tables and statements are the project's own, written for what the provider asks
-- of each key (its parameters, and the columns it reads back by name).
--
-- A message is read with a receipt (dequeued, counted up on each read) and hidden for the visibility timeout; only a
-- confirmation carrying the current receipt deletes it, so a silo that dies between reading and delivering leaves
-- the message to reappear for the silo that takes its queue over. A message read too often, or older than its expiry,
-- moves to stream_dead_letters (kept for the removal timeout) instead of disappearing.

-- Orleans' ADO.NET providers share this table of named statements; a reminders migration may have made it already.
CREATE TABLE IF NOT EXISTS orleansquery (
    querykey  varchar(64) NOT NULL PRIMARY KEY,
    querytext text        NOT NULL
);

CREATE TABLE stream_messages (
    service_id  text        NOT NULL,
    provider_id text        NOT NULL,
    queue_id    text        NOT NULL,
    message_id  bigint      GENERATED ALWAYS AS IDENTITY,
    dequeued    integer     NOT NULL DEFAULT 0,
    visible_on  timestamptz NOT NULL,
    expires_on  timestamptz NOT NULL,
    created_on  timestamptz NOT NULL,
    modified_on timestamptz NOT NULL,
    payload     bytea       NOT NULL,
    PRIMARY KEY (service_id, provider_id, queue_id, message_id)
);

CREATE TABLE stream_dead_letters (
    service_id  text        NOT NULL,
    provider_id text        NOT NULL,
    queue_id    text        NOT NULL,
    message_id  bigint      NOT NULL,
    dequeued    integer     NOT NULL,
    visible_on  timestamptz NOT NULL,
    expires_on  timestamptz NOT NULL,
    created_on  timestamptz NOT NULL,
    modified_on timestamptz NOT NULL,
    dead_on     timestamptz NOT NULL,
    remove_on   timestamptz NOT NULL,
    payload     bytea       NOT NULL,
    PRIMARY KEY (service_id, provider_id, queue_id, message_id)
);

CREATE INDEX stream_dead_letters_remove_on ON stream_dead_letters (service_id, provider_id, queue_id, remove_on);

-- When each queue's next eviction pass is due: reads evict at most once an eviction interval per queue, cluster wide.
CREATE TABLE stream_evictions (
    service_id  text        NOT NULL,
    provider_id text        NOT NULL,
    queue_id    text        NOT NULL,
    evict_on    timestamptz NOT NULL,
    PRIMARY KEY (service_id, provider_id, queue_id)
);

-- The provider reads columns back by these names (ServiceId, MessageId, ...): the aliases are quoted to keep their case.
INSERT INTO orleansquery (querykey, querytext) VALUES

-- Adds one message, visible at once, expiring ExpiryTimeout seconds from now.
('QueueStreamMessageKey', $q$
INSERT INTO stream_messages (service_id, provider_id, queue_id, visible_on, expires_on, created_on, modified_on, payload)
VALUES (@ServiceId, @ProviderId, @QueueId, now(), now() + @ExpiryTimeout * interval '1 second', now(), now(), @Payload)
RETURNING service_id AS "ServiceId", provider_id AS "ProviderId", queue_id AS "QueueId", message_id AS "MessageId"
$q$),

-- Reads up to MaxCount visible messages of the queue, oldest first, each with its receipt counted up and hidden for
-- VisibilityTimeout seconds; rows another reader holds are skipped. When the queue's eviction is due, the same
-- statement first moves up to EvictionBatchSize spent messages (read MaxAttempts times, or expired) to the dead
-- letters and deletes up to EvictionBatchSize dead letters past their removal time. The sets are disjoint: a spent
-- message is never one that is read.
('GetStreamMessagesKey', $q$
WITH due AS (
    INSERT INTO stream_evictions AS e (service_id, provider_id, queue_id, evict_on)
    VALUES (@ServiceId, @ProviderId, @QueueId, now() + @EvictionInterval * interval '1 second')
    ON CONFLICT (service_id, provider_id, queue_id) DO UPDATE SET evict_on = excluded.evict_on
    WHERE e.evict_on <= now()
    RETURNING 1
), spent AS (
    DELETE FROM stream_messages m
    WHERE m.service_id = @ServiceId AND m.provider_id = @ProviderId AND m.queue_id = @QueueId
      AND EXISTS (SELECT 1 FROM due)
      AND m.message_id IN (
          SELECT s.message_id FROM stream_messages s
          WHERE s.service_id = @ServiceId AND s.provider_id = @ProviderId AND s.queue_id = @QueueId
            AND s.visible_on <= now() AND (s.dequeued >= @MaxAttempts OR s.expires_on <= now())
          ORDER BY s.message_id
          LIMIT @EvictionBatchSize
          FOR UPDATE SKIP LOCKED)
    RETURNING m.*
), buried AS (
    INSERT INTO stream_dead_letters (service_id, provider_id, queue_id, message_id, dequeued, visible_on, expires_on,
                                     created_on, modified_on, dead_on, remove_on, payload)
    SELECT service_id, provider_id, queue_id, message_id, dequeued, visible_on, expires_on, created_on, modified_on,
           now(), now() + @RemovalTimeout * interval '1 second', payload
    FROM spent
    ON CONFLICT DO NOTHING
), removed AS (
    DELETE FROM stream_dead_letters d
    WHERE d.service_id = @ServiceId AND d.provider_id = @ProviderId AND d.queue_id = @QueueId
      AND EXISTS (SELECT 1 FROM due)
      AND d.message_id IN (
          SELECT r.message_id FROM stream_dead_letters r
          WHERE r.service_id = @ServiceId AND r.provider_id = @ProviderId AND r.queue_id = @QueueId AND r.remove_on <= now()
          ORDER BY r.remove_on
          LIMIT @EvictionBatchSize)
), taken AS (
    SELECT t.message_id FROM stream_messages t
    WHERE t.service_id = @ServiceId AND t.provider_id = @ProviderId AND t.queue_id = @QueueId
      AND t.visible_on <= now() AND t.dequeued < @MaxAttempts AND t.expires_on > now()
    ORDER BY t.message_id
    LIMIT @MaxCount
    FOR UPDATE SKIP LOCKED
)
UPDATE stream_messages m
SET dequeued = m.dequeued + 1, visible_on = now() + @VisibilityTimeout * interval '1 second', modified_on = now()
FROM taken
WHERE m.service_id = @ServiceId AND m.provider_id = @ProviderId AND m.queue_id = @QueueId AND m.message_id = taken.message_id
RETURNING m.service_id AS "ServiceId", m.provider_id AS "ProviderId", m.queue_id AS "QueueId", m.message_id AS "MessageId",
          m.dequeued AS "Dequeued", m.visible_on AS "VisibleOn", m.expires_on AS "ExpiresOn", m.created_on AS "CreatedOn",
          m.modified_on AS "ModifiedOn", m.payload AS "Payload"
$q$),

-- Items is 'id:receipt|id:receipt|...'. A positive receipt confirms delivery: the message is deleted if its receipt is
-- still that one (a later reader's read makes a stale confirmation miss). A negative receipt releases the message
-- unread (a receiver shutting down): visible again at once, its receipt kept. Returns the messages affected.
('ConfirmStreamMessagesKey', $q$
WITH items AS (
    SELECT split_part(item, ':', 1)::bigint AS message_id, split_part(item, ':', 2)::integer AS receipt
    FROM unnest(string_to_array(@Items, '|')) AS item
), confirmed AS (
    DELETE FROM stream_messages m
    USING items i
    WHERE m.service_id = @ServiceId AND m.provider_id = @ProviderId AND m.queue_id = @QueueId
      AND m.message_id = i.message_id AND i.receipt > 0 AND m.dequeued = i.receipt
    RETURNING m.service_id, m.provider_id, m.queue_id, m.message_id
), released AS (
    UPDATE stream_messages m
    SET visible_on = now(), modified_on = now()
    FROM items i
    WHERE m.service_id = @ServiceId AND m.provider_id = @ProviderId AND m.queue_id = @QueueId
      AND m.message_id = i.message_id AND i.receipt < 0 AND m.dequeued = -i.receipt
    RETURNING m.service_id, m.provider_id, m.queue_id, m.message_id
)
SELECT service_id AS "ServiceId", provider_id AS "ProviderId", queue_id AS "QueueId", message_id AS "MessageId" FROM confirmed
UNION ALL
SELECT service_id AS "ServiceId", provider_id AS "ProviderId", queue_id AS "QueueId", message_id AS "MessageId" FROM released
$q$),

-- A delivery the pulling agent gave up on: its retries ran out (StreamPullingAgentOptions.MaxEventDeliveryTime), or
-- the silo stopped under it. A message with reads left becomes visible again at once, for this silo's next read or
-- the silo that takes the queue over (the agent does not confirm a failed delivery, so the row stays); one read
-- MaxAttempts times moves to the dead letters, kept RemovalTimeout seconds, where an operator can see it.
('FailStreamMessageKey', $q$
WITH failed AS (
    SELECT f.message_id, f.dequeued FROM stream_messages f
    WHERE f.service_id = @ServiceId AND f.provider_id = @ProviderId AND f.queue_id = @QueueId AND f.message_id = @MessageId
    FOR UPDATE
), retried AS (
    UPDATE stream_messages m
    SET visible_on = now(), modified_on = now()
    FROM failed
    WHERE m.service_id = @ServiceId AND m.provider_id = @ProviderId AND m.queue_id = @QueueId
      AND m.message_id = failed.message_id AND failed.dequeued < @MaxAttempts
), spent AS (
    DELETE FROM stream_messages m
    USING failed
    WHERE m.service_id = @ServiceId AND m.provider_id = @ProviderId AND m.queue_id = @QueueId
      AND m.message_id = failed.message_id AND failed.dequeued >= @MaxAttempts
    RETURNING m.*
)
INSERT INTO stream_dead_letters (service_id, provider_id, queue_id, message_id, dequeued, visible_on, expires_on,
                                 created_on, modified_on, dead_on, remove_on, payload)
SELECT service_id, provider_id, queue_id, message_id, dequeued, visible_on, expires_on, created_on, modified_on,
       now(), now() + @RemovalTimeout * interval '1 second', payload
FROM spent
ON CONFLICT DO NOTHING
$q$),

-- The eviction of spent messages on its own (the reads above do it when due).
('EvictStreamMessagesKey', $q$
WITH spent AS (
    DELETE FROM stream_messages m
    WHERE m.service_id = @ServiceId AND m.provider_id = @ProviderId AND m.queue_id = @QueueId
      AND m.message_id IN (
          SELECT s.message_id FROM stream_messages s
          WHERE s.service_id = @ServiceId AND s.provider_id = @ProviderId AND s.queue_id = @QueueId
            AND s.visible_on <= now() AND (s.dequeued >= @MaxAttempts OR s.expires_on <= now())
          ORDER BY s.message_id
          LIMIT @MaxCount
          FOR UPDATE SKIP LOCKED)
    RETURNING m.*
)
INSERT INTO stream_dead_letters (service_id, provider_id, queue_id, message_id, dequeued, visible_on, expires_on,
                                 created_on, modified_on, dead_on, remove_on, payload)
SELECT service_id, provider_id, queue_id, message_id, dequeued, visible_on, expires_on, created_on, modified_on,
       now(), now() + @RemovalTimeout * interval '1 second', payload
FROM spent
ON CONFLICT DO NOTHING
$q$),

-- The removal of dead letters past their time on its own (the reads above do it when due).
('EvictStreamDeadLettersKey', $q$
DELETE FROM stream_dead_letters d
WHERE d.service_id = @ServiceId AND d.provider_id = @ProviderId AND d.queue_id = @QueueId
  AND d.message_id IN (
      SELECT r.message_id FROM stream_dead_letters r
      WHERE r.service_id = @ServiceId AND r.provider_id = @ProviderId AND r.queue_id = @QueueId AND r.remove_on <= now()
      ORDER BY r.remove_on
      LIMIT @MaxCount)
$q$)

ON CONFLICT (querykey) DO UPDATE SET querytext = excluded.querytext;

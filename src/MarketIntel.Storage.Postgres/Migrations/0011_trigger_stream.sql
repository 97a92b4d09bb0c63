-- The retraining trigger stream's queue (issue 22; docs/retraining.md, "Triggers: drift and the trigger stream").
-- Orleans' ADO.NET stream provider (Microsoft.Orleans.Streaming.AdoNet) keeps each stream message in a table until
-- the pulling agent that read it confirms delivery, and runs only the statements it reads from orleansquery by key.
-- The package ships no SQL; these tables, functions and statements are the project's own, written for what the
-- provider asks of each key (its parameters, and the columns it reads back by name).
--
-- A message is read with a receipt (dequeued, counted up on each read) and hidden for the visibility timeout; only a
-- confirmation carrying the current receipt deletes it, so a silo that dies between reading and delivering leaves
-- the message to reappear for the silo that takes its queue over. A message read too often, or older than its expiry,
-- moves to stream_dead_letters (kept for the removal timeout) instead of disappearing.

-- Orleans' ADO.NET providers share this table of named statements; migration 0010 (the reminders) makes it, and this
-- one does not depend on that.
CREATE TABLE IF NOT EXISTS orleansquery (
    querykey  text NOT NULL PRIMARY KEY,
    querytext text NOT NULL
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

-- What the statements below share, each defined once. Parameters are named for what they hold; the tables' columns
-- are snake_case, so neither shadows the other.

-- Moves the given messages of a queue to the dead letters, kept removal_seconds.
CREATE FUNCTION stream_bury(service text, provider text, queue text, ids bigint[], removal_seconds integer) RETURNS void
LANGUAGE sql AS $f$
WITH spent AS (
    DELETE FROM stream_messages m
    WHERE m.service_id = service AND m.provider_id = provider AND m.queue_id = queue AND m.message_id = ANY (ids)
    RETURNING m.*
)
INSERT INTO stream_dead_letters (service_id, provider_id, queue_id, message_id, dequeued, visible_on, expires_on,
                                 created_on, modified_on, dead_on, remove_on, payload)
SELECT service_id, provider_id, queue_id, message_id, dequeued, visible_on, expires_on, created_on, modified_on,
       now(), now() + removal_seconds * interval '1 second', payload
FROM spent
ON CONFLICT DO NOTHING;
$f$;

-- Moves up to max_count spent messages of a queue (read max_attempts times, or expired) to the dead letters. Only
-- visible ones: a message being delivered right now is left to its reader.
CREATE FUNCTION stream_evict(service text, provider text, queue text, max_count integer, max_attempts integer, removal_seconds integer) RETURNS void
LANGUAGE sql AS $f$
SELECT stream_bury(service, provider, queue, ARRAY(
    SELECT s.message_id FROM stream_messages s
    WHERE s.service_id = service AND s.provider_id = provider AND s.queue_id = queue
      AND s.visible_on <= now() AND (s.dequeued >= max_attempts OR s.expires_on <= now())
    ORDER BY s.message_id
    LIMIT max_count
    FOR UPDATE SKIP LOCKED), removal_seconds);
$f$;

-- Deletes up to max_count dead letters of a queue past their removal time.
CREATE FUNCTION stream_evict_dead_letters(service text, provider text, queue text, max_count integer) RETURNS void
LANGUAGE sql AS $f$
DELETE FROM stream_dead_letters d
WHERE d.service_id = service AND d.provider_id = provider AND d.queue_id = queue
  AND d.message_id IN (
      SELECT r.message_id FROM stream_dead_letters r
      WHERE r.service_id = service AND r.provider_id = provider AND r.queue_id = queue AND r.remove_on <= now()
      ORDER BY r.remove_on
      LIMIT max_count);
$f$;

-- Reads up to max_count visible messages of a queue, oldest first, each with its receipt counted up and hidden for
-- visibility_seconds; rows another reader holds are skipped. When the queue's eviction is due (at most once every
-- eviction_seconds, cluster wide), it first deletes up to eviction_batch dead letters past their time and moves up to
-- eviction_batch spent messages to the dead letters. The provider reads the columns back by these names.
CREATE FUNCTION stream_read(service text, provider text, queue text, max_count integer, max_attempts integer, visibility_seconds integer,
                            removal_seconds integer, eviction_seconds integer, eviction_batch integer)
RETURNS TABLE ("ServiceId" text, "ProviderId" text, "QueueId" text, "MessageId" bigint, "Dequeued" integer, "VisibleOn" timestamptz,
               "ExpiresOn" timestamptz, "CreatedOn" timestamptz, "ModifiedOn" timestamptz, "Payload" bytea)
LANGUAGE plpgsql AS $f$
BEGIN
    INSERT INTO stream_evictions AS e (service_id, provider_id, queue_id, evict_on)
    VALUES (service, provider, queue, now() + eviction_seconds * interval '1 second')
    ON CONFLICT (service_id, provider_id, queue_id) DO UPDATE SET evict_on = excluded.evict_on
    WHERE e.evict_on <= now();
    IF FOUND THEN
        -- Old dead letters first: one buried now stays at least until the next eviction, whatever its removal time.
        PERFORM stream_evict_dead_letters(service, provider, queue, eviction_batch);
        PERFORM stream_evict(service, provider, queue, eviction_batch, max_attempts, removal_seconds);
    END IF;
    RETURN QUERY
    WITH taken AS (
        SELECT t.message_id FROM stream_messages t
        WHERE t.service_id = service AND t.provider_id = provider AND t.queue_id = queue
          AND t.visible_on <= now() AND t.dequeued < max_attempts AND t.expires_on > now()
        ORDER BY t.message_id
        LIMIT max_count
        FOR UPDATE SKIP LOCKED
    )
    UPDATE stream_messages m
    SET dequeued = m.dequeued + 1, visible_on = now() + visibility_seconds * interval '1 second', modified_on = now()
    FROM taken
    WHERE m.service_id = service AND m.provider_id = provider AND m.queue_id = queue AND m.message_id = taken.message_id
    RETURNING m.service_id, m.provider_id, m.queue_id, m.message_id, m.dequeued, m.visible_on, m.expires_on, m.created_on,
              m.modified_on, m.payload;
END
$f$;

-- A delivery the pulling agent gave up on: its retries ran out (StreamPullingAgentOptions.MaxEventDeliveryTime), or
-- the silo stopped under it. A message with reads left becomes visible again at once, for this silo's next read or
-- the silo that takes the queue over (the agent does not confirm a failed delivery, so the row stays); one read
-- max_attempts times moves to the dead letters, where an operator can see it.
CREATE FUNCTION stream_fail(service text, provider text, queue text, failed bigint, max_attempts integer, removal_seconds integer) RETURNS void
LANGUAGE plpgsql AS $f$
BEGIN
    UPDATE stream_messages m
    SET visible_on = now(), modified_on = now()
    WHERE m.service_id = service AND m.provider_id = provider AND m.queue_id = queue AND m.message_id = failed AND m.dequeued < max_attempts;
    IF NOT FOUND THEN
        PERFORM stream_bury(service, provider, queue, ARRAY[failed], removal_seconds);
    END IF;
END
$f$;

-- The statements the provider runs, by key, with its parameter names (timeouts and intervals in whole seconds).
INSERT INTO orleansquery (querykey, querytext) VALUES

-- Adds one message, visible at once, expiring ExpiryTimeout seconds from now.
('QueueStreamMessageKey', $q$
INSERT INTO stream_messages (service_id, provider_id, queue_id, visible_on, expires_on, created_on, modified_on, payload)
VALUES (@ServiceId, @ProviderId, @QueueId, now(), now() + @ExpiryTimeout * interval '1 second', now(), now(), @Payload)
RETURNING service_id AS "ServiceId", provider_id AS "ProviderId", queue_id AS "QueueId", message_id AS "MessageId"
$q$),

('GetStreamMessagesKey', $q$
SELECT * FROM stream_read(@ServiceId, @ProviderId, @QueueId, @MaxCount, @MaxAttempts, @VisibilityTimeout, @RemovalTimeout,
                          @EvictionInterval, @EvictionBatchSize)
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

('FailStreamMessageKey', $q$
SELECT stream_fail(@ServiceId, @ProviderId, @QueueId, @MessageId, @MaxAttempts, @RemovalTimeout)
$q$),

-- The clean-ups on their own (reads run them when due; this provider version never asks for them apart).
('EvictStreamMessagesKey', $q$
SELECT stream_evict(@ServiceId, @ProviderId, @QueueId, @MaxCount, @MaxAttempts, @RemovalTimeout)
$q$),

('EvictStreamDeadLettersKey', $q$
SELECT stream_evict_dead_letters(@ServiceId, @ProviderId, @QueueId, @MaxCount)
$q$)

ON CONFLICT (querykey) DO UPDATE SET querytext = excluded.querytext;

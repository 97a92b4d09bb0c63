-- API keys in cluster mode (`marketintel keys create --postgres`): the SHA-256 of each key, never the key. Every
-- silo reads the active keys every few seconds, so a revocation reaches the whole cluster without a restart.
CREATE TABLE api_keys (
    id          text        PRIMARY KEY,
    name        text        NOT NULL,
    role        text        NOT NULL CHECK (role IN ('reader', 'writer', 'admin')),
    sha256      text        NOT NULL,
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);

-- One active key per name: the audit log names keys, so a name must say which key it was.
CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL;

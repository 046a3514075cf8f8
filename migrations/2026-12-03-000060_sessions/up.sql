-- Sessions the server can end. The browser's encrypted cookie holds a random
-- token; only its SHA-256 is stored here. Signing out deletes the row, a
-- password change or disabling the account deletes all of a person's rows,
-- and a row past its idle timeout or maximum age no longer signs anyone in.
-- This replaces users.session_epoch, which could end all of a person's
-- sessions but not one.
CREATE TABLE user_sessions (
    id BIGSERIAL PRIMARY KEY,
    token_hash BYTEA NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    client_addr TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT ''
);
CREATE INDEX user_sessions_user_idx ON user_sessions (user_id, last_seen_at);

ALTER TABLE users DROP COLUMN session_epoch;

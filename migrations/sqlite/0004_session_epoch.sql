-- Sessions signed in before this time (epoch ms) are over: a password change sets it, so
-- whoever signed in with the old password is signed out everywhere.
ALTER TABLE users ADD COLUMN sessions_valid_after BIGINT NOT NULL DEFAULT 0;

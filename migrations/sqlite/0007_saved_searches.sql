-- Searches a user saved by name (the search language's text), shown on the overview
-- with their counts. Deleted with the user.
CREATE TABLE saved_searches (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    query       TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    UNIQUE (user_id, name)
);

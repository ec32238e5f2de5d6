-- The provider's transaction-sync cursor per connection (Plaid's `next_cursor`): stored
-- when a sync has paged through every change, so the next sync asks only for what
-- changed since. NULL: never synced, start from the beginning.
ALTER TABLE connections ADD COLUMN sync_cursor TEXT;

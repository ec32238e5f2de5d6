-- The dashboard language each user chose (`en`, `mn`); NULL: follow the browser's.
ALTER TABLE users ADD COLUMN language TEXT;

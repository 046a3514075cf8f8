ALTER TABLE incidents DROP COLUMN public_title;

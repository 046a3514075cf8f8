DROP TABLE related_incidents;
ALTER TABLE incidents DROP COLUMN false_alarm;
ALTER TABLE incidents DROP COLUMN duplicate_of;

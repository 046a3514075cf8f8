DROP TABLE audit_log;
DROP TABLE sign_in_failures;
DROP TABLE users;

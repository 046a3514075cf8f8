DROP TABLE oidc_sign_ins;
DROP INDEX users_oidc_identity_key;
ALTER TABLE users
    DROP CONSTRAINT users_oidc_link_check,
    DROP COLUMN oidc_subject,
    DROP COLUMN oidc_issuer;

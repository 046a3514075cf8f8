-- Sign-in through an OpenID Connect provider: the link between an account and
-- the provider's identity (issuer + subject), and the sign-ins in progress
-- (state, nonce and PKCE verifier, each used once, bound to one browser by a
-- cookie holding the random id whose SHA-256 is the key).
ALTER TABLE users
    ADD COLUMN oidc_issuer TEXT,
    ADD COLUMN oidc_subject TEXT,
    ADD CONSTRAINT users_oidc_link_check CHECK ((oidc_issuer IS NULL) = (oidc_subject IS NULL));
CREATE UNIQUE INDEX users_oidc_identity_key ON users (oidc_issuer, oidc_subject);

CREATE TABLE oidc_sign_ins (
    id_hash BYTEA PRIMARY KEY,
    state TEXT NOT NULL,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    next_path TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX oidc_sign_ins_created_idx ON oidc_sign_ins (created_at);

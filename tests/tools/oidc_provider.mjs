// A real OpenID Provider (npm oidc-provider, certified) for tests/app/sso.rs.
//
//   node oidc_provider.mjs --redirect-uri URL --post-logout-uri URL [--misbehave MODE]
//
// Listens on a free loopback port and prints "listening <issuer>" once ready.
// Its built-in login page accepts any login name; the name decides the person:
//   <name>             <name>@example.test, email verified, no groups
//   unverified-<name>  email not verified
//   lead-<name>        in the group "sre-leads"
// With --misbehave the ID token from the token endpoint is altered:
//   bad-signature   one signature byte flipped
//   wrong-audience  aud is another client (re-signed with the provider's key)
//   expired         exp four minutes ago (re-signed)
//   wrong-nonce     another nonce (re-signed)
//   rotate-keys     signed with a new key that the JWKS lists only from then on
import http from 'node:http';
import { parseArgs } from 'node:util';
import Provider from 'oidc-provider';
import { CompactSign, exportJWK, generateKeyPair, decodeProtectedHeader } from 'jose';

const { values: args } = parseArgs({
  options: {
    'redirect-uri': { type: 'string' },
    'post-logout-uri': { type: 'string' },
    'client-id': { type: 'string', default: 'firebreak-test' },
    'client-secret': { type: 'string', default: 'firebreak-test-secret-0123456789' },
    misbehave: { type: 'string', default: '' },
  },
});

async function signingKey(kid) {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
  return { privateKey, jwk };
}
const main = await signingKey('main');
const rotated = await signingKey('rotated');
let rotatedPublished = false;

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: args['client-id'],
    client_secret: args['client-secret'],
    redirect_uris: [args['redirect-uri']],
    post_logout_redirect_uris: [args['post-logout-uri']],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [main.jwk] },
  // Scope claims go into the ID token too (the relying party reads only the ID token).
  conformIdTokenClaims: false,
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'groups'] },
  async findAccount(ctx, id) {
    const name = id.replace(/^(unverified|lead)-/, '');
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: `${name}@example.test`,
          email_verified: !id.startsWith('unverified-'),
          name: `Test ${name}`,
          groups: id.startsWith('lead-') ? ['sre-leads'] : ['staff'],
        };
      },
    };
  },
  cookies: {
    keys: ['test-cookie-key-not-a-secret'],
    // Same host as the app: names it never uses.
    names: { session: 'op_session', interaction: 'op_interaction', resume: 'op_resume' },
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  ttl: { IdToken: 3600 },
});
provider.proxy = false;

const b64 = (buf) => Buffer.from(buf).toString('base64url');

async function resign(token, change, key) {
  const [header, payload] = token.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
  change(claims);
  const protectedHeader = { ...decodeProtectedHeader(token), kid: key.jwk.kid };
  return new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader(protectedHeader)
    .sign(key.privateKey);
}

async function misbehave(token) {
  const now = Math.floor(Date.now() / 1000);
  switch (args.misbehave) {
    case 'bad-signature': {
      const [h, p, s] = token.split('.');
      const sig = Buffer.from(s, 'base64url');
      sig[10] ^= 0x01;
      return `${h}.${p}.${b64(sig)}`;
    }
    case 'wrong-audience':
      return resign(token, (c) => { c.aud = 'another-client'; c.azp = 'another-client'; }, main);
    case 'expired':
      return resign(token, (c) => { c.iat = now - 300; c.exp = now - 240; }, main);
    case 'wrong-nonce':
      return resign(token, (c) => { c.nonce = 'not-the-nonce-we-were-sent'; }, main);
    case 'rotate-keys':
      rotatedPublished = true;
      return resign(token, () => {}, rotated);
    default:
      return token;
  }
}

provider.use(async (ctx, next) => {
  if (ctx.path === '/jwks' && args.misbehave === 'rotate-keys') {
    ctx.type = 'application/jwk-set+json';
    const publicOf = ({ kid, alg, use, kty, n, e }) => ({ kid, alg, use, kty, n, e });
    ctx.body = { keys: rotatedPublished ? [publicOf(main.jwk), publicOf(rotated.jwk)] : [publicOf(main.jwk)] };
    return;
  }
  await next();
  if (ctx.path === '/token' && ctx.method === 'POST' && ctx.body && ctx.body.id_token && args.misbehave) {
    ctx.body = { ...ctx.body, id_token: await misbehave(ctx.body.id_token) };
  }
});

server.on('request', provider.callback());
console.log(`listening ${issuer}`);

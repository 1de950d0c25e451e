// A real OpenID provider (panva/oidc-provider) for SkyForge login tests.
//
//   node provider.mjs PORT
//
// Environment: OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URIS (comma-separated),
// OIDC_AUTH_METHOD (client_secret_basic by default), OIDC_CONFORM=1 to keep email/name out of
// the ID token (so a relying party must ask the userinfo endpoint), OIDC_EXIT_ON_EOF=1 to stop
// when stdin closes (the test process died). Prints "ready" on stdout once it listens on
// 127.0.0.1:PORT, with issuer exactly http://127.0.0.1:PORT.
import { generateKeyPairSync, randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';

const port = Number(process.argv[2] ?? process.env.PORT);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node provider.mjs PORT');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;
const authMethod = process.env.OIDC_AUTH_METHOD ?? 'client_secret_basic';

const ACCOUNTS = {
  alice: { email: 'alice@example.com', email_verified: true, name: 'Alice' },
  bob: { email: 'bob@example.com', email_verified: false },
  carol: { email: 'carol@example.com', email_verified: true, name: 'Carol' },
};

// Fresh keys on every start: the relying party must fetch them from jwks_uri, never assume.
function signingKey(kid, type, options) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig' };
}

const configuration = {
  clients: [
    {
      client_id: process.env.OIDC_CLIENT_ID ?? 'skyforge',
      client_secret: process.env.OIDC_CLIENT_SECRET ?? 'skyforge-secret',
      redirect_uris: (process.env.OIDC_REDIRECT_URIS ?? 'http://127.0.0.1/callback').split(','),
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: authMethod,
    },
  ],
  clientAuthMethods: [authMethod],
  jwks: {
    keys: [
      signingKey('rsa-1', 'rsa', { modulusLength: 2048 }),
      signingKey('ec-1', 'ec', { namedCurve: 'P-256' }),
    ],
  },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  // Explicit lifetimes, in seconds: the defaults work but print a notice on every login.
  ttl: {
    AccessToken: 600,
    AuthorizationCode: 60,
    Grant: 600,
    IdToken: 600,
    Interaction: 600,
    Session: 600,
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  conformIdTokenClaims: process.env.OIDC_CONFORM === '1',
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  async findAccount(_ctx, id) {
    const claims = ACCOUNTS[id];
    if (!claims) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...claims }) };
  },
};

const provider = new Provider(issuer, configuration);
if (process.env.OIDC_EXIT_ON_EOF === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

provider.listen(port, '127.0.0.1', () => {
  console.log('ready');
});

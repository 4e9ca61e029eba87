export { activeClient, authenticateClient, CLIENT_SECRET_PREFIX, clientAuth, createClient, listClients, revokeClient, toClientResource, type ClientRow } from './client-store.js';
export { JWT_ALG, SigningKeys, type SigningKeysOptions } from './signing-keys.js';
export { issueToken, looksLikeJwt, verifyToken, type TokenCheck, type TokenSettings } from './tokens.js';

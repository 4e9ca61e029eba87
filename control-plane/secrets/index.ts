/** Secrets at rest: the sealing box (SECRETS_KEY), and moving stored secrets to the current key. */
export { generateSecretsKey, isSealed, keyIdOf, openStored, secretBoxFrom, SecretBox, SecretBoxError, type SecretsKey } from './secret-box.js';
export { resealedCount, resealSecrets, SEALED_COLUMNS, sealContext, type ResealResult, type SealedTable } from './reseal.js';

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../shared/testing/index.js';
import { ERROR_CATALOG } from '../errors.js';

describe('error catalog', () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

  it('every error code is documented in the README with its status', () => {
    const missing = Object.entries(ERROR_CATALOG)
      .filter(([code, spec]) => !new RegExp(`\\|\\s*\`${code}\`\\s*\\|\\s*${spec.status}\\s*\\|`).test(readme))
      .map(([code, spec]) => `${code} (${spec.status})`);
    expect(missing).toEqual([]);
  });

  it('codes are snake_case and statuses are HTTP error statuses', () => {
    for (const [code, spec] of Object.entries(ERROR_CATALOG)) {
      expect(code).toMatch(/^[a-z][a-z0-9_]+$/);
      expect(spec.status).toBeGreaterThanOrEqual(400);
      expect(spec.status).toBeLessThan(600);
    }
  });
});

/** `linkplane keys create|list|revoke`. */
import type { Linkplane } from '@linkplane/sdk';
import { collect, type Register } from './types.js';

type Role = 'admin' | 'publisher' | 'analyst' | 'read-only';
type Scope = NonNullable<Parameters<Linkplane['keys']['create']>[0]['scopes']>[number];

export const registerKeys: Register = (program, action) => {
  const keys = program.command('keys').description('API keys');

  keys
    .command('create')
    .description('create an API key (its secret is shown once)')
    .requiredOption('--name <name>')
    .requiredOption('--role <role>', 'admin, publisher, analyst or read-only')
    .option('--scope <scope>', 'limit to a scope (repeat for more)', collect)
    .option('--domain <hostname>', 'limit to a domain (repeat for more)', collect)
    .action(action(async (ctx, o: { name: string; role: string; scope?: string[]; domain?: string[] }) => {
      const key = await ctx.client().keys.create({
        name: o.name,
        role: o.role as Role,
        ...(o.scope && { scopes: o.scope as Scope[] }),
        ...(o.domain && { domains: o.domain }),
      });
      ctx.out.result(key, () => {
        ctx.out.line(`key ${key.id} (${key.name}, ${key.role})`);
        ctx.out.line(`secret: ${key.secret}`);
        ctx.out.line('(shown once: store it now)');
      });
    }));

  keys
    .command('list')
    .description('list API keys')
    .action(action(async (ctx) => {
      const rows = await ctx.client().keys.list({ limit: 200 }).toArray();
      ctx.out.result(rows, () => ctx.out.table(rows, ['id', 'name', 'role', 'prefix', 'domains', 'last_used_at']));
    }));

  keys
    .command('revoke')
    .argument('<id>', 'the key id (key_…)')
    .description('revoke an API key')
    .action(action(async (ctx, id: string) => {
      const key = await ctx.client().keys.revoke(id);
      ctx.out.result(key, () => ctx.out.line(`revoked ${key.id} (${key.name})`));
    }));
};

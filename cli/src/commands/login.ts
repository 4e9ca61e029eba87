/** `linkplane login`: checks the URL and key against the API (GET /v1/keys/me), then stores them (mode 600). */
import { createInterface } from 'node:readline/promises';
import { Linkplane } from '@linkplane/sdk';
import { writeStored } from '../config.js';
import type { Register } from './types.js';

async function ask(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(question)).trim();
  } finally {
    rl.close();
  }
}

/** The first line of stdin (a key piped in: `echo $KEY | linkplane login --api-url …`). */
async function firstLine(): Promise<string> {
  let data = '';
  for await (const chunk of process.stdin) {
    data += String(chunk);
    if (data.includes('\n')) break;
  }
  return data.split('\n')[0]!.trim();
}

export const registerLogin: Register = (program, action) => {
  program
    .command('login')
    .description('store the API URL and key in your config directory (checked against the API first); --api-url, and --api-key (else prompted for, or read from stdin)')
    .action(action(async (ctx, opts: { apiUrl?: string; apiKey?: string }) => {
      const apiUrl = opts.apiUrl ?? ctx.settings.apiUrl ?? (process.stdin.isTTY ? await ask('API URL: ') : undefined);
      const apiKey = opts.apiKey ?? (process.stdin.isTTY ? await ask('API key: ') : await firstLine());
      if (!apiUrl || !apiKey) throw new Error('login needs --api-url and an API key (--api-key, the prompt, or stdin)');
      const me = await new Linkplane({ apiUrl, apiKey, retry: { retries: 1 } }).keys.me();
      await writeStored(ctx.settings.configFile, { apiUrl, apiKey });
      ctx.out.result({ api_url: apiUrl, key: me, config_file: ctx.settings.configFile }, () =>
        ctx.out.line(`Logged in to ${apiUrl} as key ${me.name} (${me.id}, ${me.role}); saved in ${ctx.settings.configFile}`));
    }));
};

/** What every command gets: output, the settings, and an SDK client made from them. */
import { Linkplane } from '@linkplane/sdk';
import { loadSettings, stderrIsTty, type Settings } from './config.js';
import { createOut, type Out } from './output.js';

export class NotConfigured extends Error {}

export interface Context {
  out: Out;
  settings: Settings;
  /** Progress and prompts go to stderr, only when it is a terminal. */
  tty: boolean;
  client(): Linkplane;
}

export async function createContext(opts: { json?: boolean; apiUrl?: string; apiKey?: string }): Promise<Context> {
  const settings = await loadSettings();
  if (opts.apiUrl) settings.apiUrl = opts.apiUrl;
  if (opts.apiKey) settings.apiKey = opts.apiKey;
  let client: Linkplane | undefined;
  return {
    out: createOut(Boolean(opts.json)),
    settings,
    tty: stderrIsTty(),
    client() {
      if (!settings.apiUrl || !settings.apiKey) {
        throw new NotConfigured('no API URL or key: run `linkplane login`, or set LINKPLANE_API_URL and LINKPLANE_API_KEY');
      }
      client ??= new Linkplane({ apiUrl: settings.apiUrl, apiKey: settings.apiKey });
      return client;
    },
  };
}

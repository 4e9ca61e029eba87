/**
 * The CLI's settings, read once: the API URL and key from LINKPLANE_API_URL / LINKPLANE_API_KEY,
 * else from the config file `linkplane login` wrote (mode 600) in the user's config directory:
 * $XDG_CONFIG_HOME/linkplane (default ~/.config/linkplane), %APPDATA%\linkplane on Windows.
 */
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface StoredConfig {
  apiUrl?: string;
  apiKey?: string;
}

export interface Settings {
  apiUrl: string | undefined;
  apiKey: string | undefined;
  /** Where each came from, for `linkplane login --show`-like messages. */
  source: { apiUrl: 'env' | 'file' | 'none'; apiKey: 'env' | 'file' | 'none' };
  configFile: string;
}

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LINKPLANE_CONFIG_DIR) return env.LINKPLANE_CONFIG_DIR;
  if (process.platform === 'win32' && env.APPDATA) return join(env.APPDATA, 'linkplane');
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'linkplane');
}

export function configFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), 'config.json');
}

export async function readStored(file: string): Promise<StoredConfig> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as StoredConfig;
    return typeof parsed === 'object' && parsed !== null ? parsed : {};
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new Error(`cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** Writes the config file readable by its owner only (the directory 700, the file 600). */
export async function writeStored(file: string, config: StoredConfig): Promise<void> {
  const dir = join(file, '..');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
  await chmod(tmp, 0o600); // whatever the umask
  await rename(tmp, file);
}

export async function loadSettings(env: NodeJS.ProcessEnv = process.env): Promise<Settings> {
  const file = configFile(env);
  const stored = await readStored(file);
  const pick = (envName: string, fromFile: string | undefined): [string | undefined, 'env' | 'file' | 'none'] =>
    env[envName] ? [env[envName], 'env'] : fromFile ? [fromFile, 'file'] : [undefined, 'none'];
  const [apiUrl, urlSource] = pick('LINKPLANE_API_URL', stored.apiUrl);
  const [apiKey, keySource] = pick('LINKPLANE_API_KEY', stored.apiKey);
  return { apiUrl, apiKey, source: { apiUrl: urlSource, apiKey: keySource }, configFile: file };
}

/** Whether colour and progress may be drawn on stderr. */
export function stderrIsTty(): boolean {
  return Boolean(process.stderr.isTTY) && process.env.TERM !== 'dumb';
}

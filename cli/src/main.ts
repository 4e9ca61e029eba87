/**
 * The `linkplane` command line, built on @linkplane/sdk: commander parses, each command calls
 * the SDK and prints text or `--json`; failures map to the documented exit codes (exit-codes.ts).
 */
import { Command, CommanderError } from 'commander';
import { LinkplaneError } from '@linkplane/sdk';
import { registerJobs } from './commands/jobs.js';
import { registerKeys } from './commands/keys.js';
import { registerLinks } from './commands/links.js';
import { registerLogin } from './commands/login.js';
import { registerStats } from './commands/stats.js';
import type { Action } from './commands/types.js';
import { registerWebhooks } from './commands/webhooks.js';
import { createContext, NotConfigured } from './context.js';
import { EXIT, exitCodeFor } from './exit-codes.js';

export const VERSION = '0.1.0';

interface GlobalOptions {
  json?: boolean;
  apiUrl?: string;
  apiKey?: string;
}

/** Prints a failure on stderr (one JSON line with --json) and returns its exit code. */
function report(err: unknown, json: boolean): number {
  const code = err instanceof NotConfigured ? EXIT.notConfigured : exitCodeFor(err);
  if (json) {
    const e = err instanceof LinkplaneError
      ? { status: err.status, code: err.code, message: err.message, details: err.details, request_id: err.requestId }
      : { code: err instanceof NotConfigured ? 'not_configured' : 'cli_error', message: err instanceof Error ? err.message : String(err) };
    process.stderr.write(JSON.stringify({ error: e, exit_code: code }) + '\n');
  } else if (err instanceof LinkplaneError) {
    const extra = [err.field && `field ${err.field}`, err.requestId && `request ${err.requestId}`].filter(Boolean).join(', ');
    process.stderr.write(`linkplane: ${err.message} (${err.code}${extra ? `; ${extra}` : ''})\n`);
  } else {
    process.stderr.write(`linkplane: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  return code;
}

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('linkplane')
    .description('linkplane from the command line: links, bulk imports, webhooks, stats, keys')
    .version(VERSION)
    .option('--json', 'print JSON (for scripts); errors as one JSON line on stderr')
    .option('--api-url <url>', 'the API (overrides LINKPLANE_API_URL and the stored login)')
    .option('--api-key <key>', 'the API key (overrides LINKPLANE_API_KEY and the stored login)')
    .showHelpAfterError('(linkplane --help lists the commands)')
    .exitOverride();

  const action: Action = (fn) => async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const globals = cmd.optsWithGlobals<GlobalOptions>();
    // commander passes (…arguments, options, command); a command sees its options and the global ones
    const params = args.slice(0, -2);
    try {
      const ctx = await createContext(globals);
      const code = await (fn as (ctx: unknown, ...a: unknown[]) => Promise<number | void>)(ctx, ...params, globals);
      setExit(code ?? EXIT.ok);
    } catch (err) {
      setExit(report(err, Boolean(globals.json)));
    }
  };

  registerLogin(program, action);
  registerLinks(program, action);
  registerJobs(program, action);
  registerWebhooks(program, action);
  registerStats(program, action);
  registerKeys(program, action);
  for (const cmd of program.commands) {
    cmd.exitOverride();
    for (const sub of cmd.commands) sub.exitOverride();
  }
  return program;
}

/** Runs the CLI with `argv` (without node and the script) and resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  let exit: number = EXIT.ok;
  const program = buildProgram((code) => {
    exit = code;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version are not errors; everything else commander refuses is a usage error
      return err.exitCode === 0 || err.code === 'commander.help' || err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? EXIT.ok : EXIT.usage;
    }
    return report(err, argv.includes('--json'));
  }
  return exit;
}

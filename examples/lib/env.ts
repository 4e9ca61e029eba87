/** Settings for the recipes' entry points: a variable from the environment they pass in, or a clear stop. */
export function setting(env: Record<string, string | undefined>, name: string, fallback?: string): string {
  const v = env[name] ?? fallback;
  if (v === undefined || v === '') {
    console.error(`${name} is not set`);
    process.exit(2);
  }
  return v;
}

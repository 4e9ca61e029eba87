export const when = (iso: string | null) => (iso ? new Date(iso).toISOString().slice(0, 16).replace('T', ' ') + ' UTC' : '—');
export const num = (n: number) => n.toLocaleString('en-US');

/** Saves a blob as a file (CSV exports, QR codes). */
export function download(blob: Blob, name: string) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function errorText(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && 'message' in err) return `${String(err.message)} (${String(err.code)})`;
  return err instanceof Error ? err.message : String(err);
}

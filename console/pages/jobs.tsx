/**
 * Bulk jobs: upload a CSV or NDJSON file (upload progress from the browser), the job list with live
 * status (polled while any job is unfinished), per-row errors of a job and their CSV.
 */
import { useEffect, useState } from 'preact/hooks';
import { useSession } from '../context.js';
import { download, num, when } from '../format.js';
import type { Job, JobError, Page } from '../types.js';
import { ListTable } from '../list-table.js';
import { Field } from '../ui.js';

const OPERATIONS = ['create', 'upsert', 'update', 'disable', 'delete'];
const done = (j: Job) => !['queued', 'running'].includes(j.status);

export function JobsPage() {
  const { api, can } = useSession();
  const [jobs, setJobs] = useState<Job[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [file, setFile] = useState<File | null>(null);
  const [operation, setOperation] = useState('create');
  const [progress, setProgress] = useState<number | null>(null);
  const [open, setOpen] = useState<string | null>(null);

  const [cursor, setCursor] = useState<string | null>(null);
  // the first page, refreshed while jobs run (older pages stay as loaded)
  const refresh = (first = false) =>
    api.get<Page<Job>>('/v1/jobs', { limit: 50 }).then((p) => {
      const last = p.data[p.data.length - 1];
      const older = (o: Job) => p.next_cursor !== null && last !== undefined && o.id < last.id;
      setJobs((old) => [...p.data, ...old.filter(older)]);
      if (first) setCursor(p.next_cursor);
    }, setError);
  const more = (after: string) =>
    api.get<Page<Job>>('/v1/jobs', { limit: 50, cursor: after }).then((p) => {
      setJobs((old) => [...old, ...p.data]);
      setCursor(p.next_cursor);
    }, setError);
  useEffect(() => {
    void refresh(true);
  }, []);
  // live status: poll while a job is queued or running
  const busy = jobs.some((j) => !done(j));
  useEffect(() => {
    if (!busy) return;
    const t = setInterval(() => void refresh(), 1000);
    return () => clearInterval(t);
  }, [busy]);

  const upload = async (e: Event) => {
    e.preventDefault();
    if (!file) return;
    setError(null);
    setProgress(0);
    const type = /\.csv$/i.test(file.name) || file.type === 'text/csv' ? 'text/csv' : 'application/x-ndjson';
    try {
      const r = await api.upload<{ job_id: string }>(`/v1/links/bulk?operation=${operation}`, file, type, (sent, total) => setProgress(total ? sent / total : 0));
      setNotice(`Uploaded ${file.name}: job ${r.job_id}`);
      await refresh();
    } catch (err) {
      setError(err);
    } finally {
      setProgress(null);
    }
  };

  return (
    <section aria-labelledby="jobs-title">
      <h1 id="jobs-title">Bulk jobs</h1>
      {can('jobs:write') && (
        <form class="filters" onSubmit={upload} aria-label="Upload a bulk file">
          <Field label="File (CSV or NDJSON)" id="job-file" hint="CSV: a header row (domain, path, destination_url, tags, …); NDJSON: one link per line">
            <input id="job-file" type="file" accept=".csv,.ndjson,.jsonl,text/csv,application/x-ndjson" required onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)} />
          </Field>
          <Field label="Operation" id="job-op">
            <select id="job-op" value={operation} onChange={(e) => setOperation(e.currentTarget.value)}>
              {OPERATIONS.map((o) => (
                <option value={o}>{o}</option>
              ))}
            </select>
          </Field>
          <div class="filter-actions">
            <button type="submit" disabled={!file || progress !== null}>
              Upload
            </button>
          </div>
          {progress !== null && (
            <div class="field">
              <label for="job-progress">Upload progress</label>
              <progress id="job-progress" max={1} value={progress} />
            </div>
          )}
        </form>
      )}
      <ListTable<Job>
        caption="Bulk jobs, newest first"
        class="jobs"
        rows={jobs}
        rowKey={(j) => j.id}
        rowProps={(j) => ({ 'data-job-id': j.id })}
        error={error}
        notice={notice}
        empty="No bulk job yet."
        onMore={cursor ? () => void more(cursor) : null}
        columns={[
          { header: 'Job', cell: (j) => j.id },
          { header: 'Operation', cell: (j) => `${j.operation} · ${j.format}` },
          { header: 'Status', cell: (j) => <span class={`status ${j.status}`}>{j.status.replace('_', ' ')}</span> },
          {
            header: 'Done',
            cell: (j) => (
              <>
                <progress max={j.counts.total || 1} value={j.counts.succeeded + j.counts.failed} aria-label={`Progress of ${j.id}`} /> {num(j.counts.succeeded + j.counts.failed)} / {num(j.counts.total)}
              </>
            ),
          },
          { header: 'Failed', cell: (j) => num(j.counts.failed) },
          { header: 'Created', cell: (j) => when(j.created_at) },
          {
            header: 'Errors',
            cell: (j) =>
              j.counts.failed > 0 && (
                <button type="button" class="link" onClick={() => setOpen(open === j.id ? null : j.id)} aria-expanded={open === j.id} aria-label={`${open === j.id ? 'Hide' : 'Show'} errors of ${j.id}`}>
                  {open === j.id ? 'Hide' : 'Show'}
                </button>
              ),
          },
        ]}
      />
      {open && <JobErrors id={open} />}
    </section>
  );
}

async function allErrors(get: <T>(p: string, q?: Record<string, string | number | null>) => Promise<T>, id: string): Promise<JobError[]> {
  const out: JobError[] = [];
  let cursor: string | null = null;
  do {
    const page: Page<JobError> = await get<Page<JobError>>(`/v1/jobs/${id}/errors`, { limit: 1000, cursor });
    out.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor && out.length < 100_000);
  return out;
}

function JobErrors({ id }: { id: string }) {
  const { api } = useSession();
  const [rows, setRows] = useState<JobError[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    allErrors(api.get, id).then(setRows, setError);
  }, [id]);
  const exportCsv = () => {
    if (!rows) return;
    const cell = (v: string | number | null) => (v === null ? '' : /[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v));
    const text = ['index,external_id,code,field,message', ...rows.map((r) => [r.index, r.external_id, r.code, r.field, r.message].map(cell).join(','))].join('\n') + '\n';
    download(new Blob([text], { type: 'text/csv' }), `${id}-errors.csv`);
  };
  return (
    <section aria-labelledby="job-errors-title">
      <h2 id="job-errors-title">Errors of {id}</h2>
      {rows && (
        <button type="button" class="secondary" onClick={exportCsv}>
          Download errors (CSV)
        </button>
      )}
      <ListTable<JobError>
        caption={`Row errors of ${id}`}
        class="job-errors"
        rows={rows ?? []}
        rowKey={(r) => `${r.index}`}
        error={error}
        loading={rows === null}
        columns={[
          { header: 'Row', cell: (r) => r.index },
          { header: 'External id', cell: (r) => r.external_id ?? '' },
          { header: 'Code', cell: (r) => r.code },
          { header: 'Field', cell: (r) => r.field ?? '' },
          { header: 'Message', cell: (r) => r.message },
        ]}
      />
    </section>
  );
}

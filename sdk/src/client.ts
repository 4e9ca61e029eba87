/**
 * The client: `new Linkplane({ apiUrl, apiKey })`, one namespace per resource of the API. Each
 * method is a thin mapping onto one operation of the OpenAPI document (its types come from the
 * generated file); the transport adds keys, retries and typed errors, `Paged` the iteration.
 */
import { Paged, type Page } from './paging.js';
import { sleep } from './retry.js';
import { Transport, seg, type ApiResponse, type CallOptions, type ClientOptions, type RequestSpec } from './transport.js';
import type {
  BodyOf, CreatedKey, OperationId, Domain, ItemOf, Job, JobAccepted, JobError, JobOperation, Key, Link, LinkStats, QueryOf, ResultOf,
  WebhookDelivery, WebhookEndpoint, WorkspaceStats,
} from './types.js';
import { resolveUpload, uploadBody, type UploadFormat, type UploadProgress, type UploadSource } from './upload.js';

/** Job statuses after which nothing changes. */
export const FINAL_JOB_STATUSES: ReadonlySet<Job['status']> = new Set(['succeeded', 'partially_succeeded', 'failed', 'cancelled']);

export interface UploadOptions extends CallOptions {
  /** What each item does (default `upsert`). */
  operation?: JobOperation;
  /** `csv`, `ndjson` or `json`; inferred from a File's name or type, or objects (NDJSON), when left out. */
  format?: UploadFormat;
  /** POSTed, signed, when the job finishes (the answer carries its secret once). */
  callbackUrl?: string;
  onProgress?: (p: UploadProgress) => void;
}

export interface WaitOptions {
  /** Called with the job after every poll. */
  onProgress?: (job: Job) => void;
  /** Poll interval in ms (default 1000). */
  intervalMs?: number;
  /** Give up after this many ms (default: never); rejects with a `TimeoutError` DOMException-like error. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface JobResultLine {
  index: number;
  status: 'created' | 'updated' | 'unchanged' | 'disabled' | 'deleted' | 'failed';
  link_id?: string;
  short_url?: string;
  external_id?: string | null;
  error?: { code: string; field: string | null; message: string };
}

type Query<K extends OperationId> = Omit<QueryOf<K>, 'cursor'> & { cursor?: string };

export class Linkplane {
  readonly transport: Transport;

  constructor(opts: ClientOptions) {
    this.transport = new Transport(opts);
  }

  /** Any call, with status, headers, request id and whether it was an idempotent replay. */
  request<T>(spec: RequestSpec): Promise<ApiResponse<T>> {
    return this.transport.request<T>(spec);
  }

  private async call<T>(spec: RequestSpec): Promise<T> {
    return (await this.transport.request<T>(spec)).data;
  }

  private paged<K extends OperationId>(path: string, query: Record<string, unknown> = {}, opts: CallOptions = {}): Paged<ItemOf<K>> {
    const { cursor, ...rest } = query as { cursor?: string };
    return new Paged<ItemOf<K>>((c) => this.call<Page<ItemOf<K>>>({ ...opts, method: 'GET', path, query: { ...rest, cursor: c } }), cursor);
  }

  readonly links = {
    create: (body: BodyOf<'createLink'>, opts?: CallOptions): Promise<ResultOf<'createLink'>> =>
      this.call({ ...opts, method: 'POST', path: '/v1/links', body: { json: body } }),
    get: (id: string, opts?: CallOptions): Promise<Link> => this.call({ ...opts, method: 'GET', path: `/v1/links/${seg(id)}` }),
    /** Every link matching the filters, page by page as you iterate. */
    list: (query: Query<'listLinks'> = {}, opts?: CallOptions): Paged<Link> => this.paged<'listLinks'>('/v1/links', query, opts),
    update: (id: string, body: BodyOf<'updateLink'>, opts?: CallOptions): Promise<Link> =>
      this.call({ ...opts, method: 'PATCH', path: `/v1/links/${seg(id)}`, body: { json: body } }),
    delete: (id: string, opts?: CallOptions): Promise<Link> => this.call({ ...opts, method: 'DELETE', path: `/v1/links/${seg(id)}` }),
    /** The QR code image (PNG unless `format: 'svg'`), as bytes. */
    qr: (id: string, query: QueryOf<'getLinkQrCode'> = {}, opts?: CallOptions): Promise<Uint8Array> =>
      this.call({ ...opts, method: 'GET', path: `/v1/links/${seg(id)}/qr`, query, as: 'bytes' }),
    stats: (id: string, query: QueryOf<'getLinkStats'> = {}, opts?: CallOptions): Promise<LinkStats> =>
      this.call({ ...opts, method: 'GET', path: `/v1/links/${seg(id)}/stats`, query }),
    /** Raw clicks (JSON pages). */
    clicks: (id: string, query: Omit<Query<'listLinkClicks'>, 'format'> = {}, opts?: CallOptions): Paged<ItemOf<'listLinkClicks'>> =>
      this.paged<'listLinkClicks'>(`/v1/links/${seg(id)}/clicks`, query, opts),
  };

  readonly domains = {
    create: (body: BodyOf<'createDomain'>, opts?: CallOptions): Promise<Domain> => this.call({ ...opts, method: 'POST', path: '/v1/domains', body: { json: body } }),
    get: (id: string, opts?: CallOptions): Promise<Domain> => this.call({ ...opts, method: 'GET', path: `/v1/domains/${seg(id)}` }),
    list: (query: Query<'listDomains'> = {}, opts?: CallOptions): Paged<Domain> => this.paged<'listDomains'>('/v1/domains', query, opts),
    update: (id: string, body: BodyOf<'updateDomain'>, opts?: CallOptions): Promise<Domain> =>
      this.call({ ...opts, method: 'PATCH', path: `/v1/domains/${seg(id)}`, body: { json: body } }),
    delete: (id: string, opts?: CallOptions): Promise<ResultOf<'deleteDomain'>> => this.call({ ...opts, method: 'DELETE', path: `/v1/domains/${seg(id)}` }),
  };

  readonly keys = {
    /** A new key; its `secret` is in this answer only. */
    create: (body: BodyOf<'createKey'>, opts?: CallOptions): Promise<CreatedKey> => this.call({ ...opts, method: 'POST', path: '/v1/keys', body: { json: body } }),
    list: (query: Query<'listKeys'> = {}, opts?: CallOptions): Paged<Key> => this.paged<'listKeys'>('/v1/keys', query, opts),
    revoke: (id: string, opts?: CallOptions): Promise<Key> => this.call({ ...opts, method: 'DELETE', path: `/v1/keys/${seg(id)}` }),
    /** The calling key: role, scopes, domain limit, rate limit (never its secret). */
    me: (opts?: CallOptions): Promise<ResultOf<'getCurrentKey'>> => this.call({ ...opts, method: 'GET', path: '/v1/keys/me' }),
  };

  readonly jobs = {
    /**
     * Streams a CSV/NDJSON/JSON upload into a bulk job (nothing held in memory) and returns the
     * accepted job. A Blob/File/string/array is retried like any call; a stream or generator can
     * be sent only once, so a failure is thrown — call again with the same `idempotencyKey` and a
     * fresh stream (the API answers the same job if the first upload got through).
     */
    upload: async (source: UploadSource, opts: UploadOptions = {}): Promise<JobAccepted> => {
      const { source: body, format } = await resolveUpload(source, opts.format);
      const query: Record<string, unknown> = { operation: opts.operation ?? 'upsert', callback_url: opts.callbackUrl };
      return this.call({ ...opts, method: 'POST', path: '/v1/links/bulk', query, body: uploadBody(body, format, opts.onProgress) });
    },
    get: (id: string, opts?: CallOptions): Promise<Job> => this.call({ ...opts, method: 'GET', path: `/v1/jobs/${seg(id)}` }),
    list: (query: Query<'listJobs'> = {}, opts?: CallOptions): Paged<Job> => this.paged<'listJobs'>('/v1/jobs', query, opts),
    /** Polls until the job is final (succeeded, partially_succeeded, failed, cancelled) and returns it. */
    wait: async (id: string, opts: WaitOptions = {}): Promise<Job> => {
      const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
      for (;;) {
        const job = await this.jobs.get(id, { signal: opts.signal });
        opts.onProgress?.(job);
        if (FINAL_JOB_STATUSES.has(job.status)) return job;
        if (Date.now() >= deadline) throw new Error(`job ${id} is still ${job.status} after ${opts.timeoutMs} ms`);
        await sleep(Math.min(opts.intervalMs ?? 1000, Math.max(0, deadline - Date.now())), opts.signal);
      }
    },
    /** The failed items, in item order. */
    errors: (id: string, query: Query<'listJobErrors'> = {}, opts?: CallOptions): Paged<JobError> =>
      this.paged<'listJobErrors'>(`/v1/jobs/${seg(id)}/errors`, query, opts),
    /** One line per processed item, streamed (NDJSON parsed as it arrives). */
    results: (id: string, opts?: CallOptions): AsyncIterable<JobResultLine> => {
      const open = () => this.call<Response>({ ...opts, method: 'GET', path: `/v1/jobs/${seg(id)}/results`, as: 'response' });
      return { [Symbol.asyncIterator]: () => ndjsonLines<JobResultLine>(open) };
    },
    cancel: (id: string, opts?: CallOptions): Promise<Job> => this.call({ ...opts, method: 'POST', path: `/v1/jobs/${seg(id)}/cancel` }),
  };

  readonly webhooks = {
    endpoints: {
      /** A new endpoint; its signing `secret` is in this answer only. */
      create: (body: BodyOf<'createWebhookEndpoint'>, opts?: CallOptions): Promise<ResultOf<'createWebhookEndpoint'>> =>
        this.call({ ...opts, method: 'POST', path: '/v1/webhooks/endpoints', body: { json: body } }),
      get: (id: string, opts?: CallOptions): Promise<WebhookEndpoint> => this.call({ ...opts, method: 'GET', path: `/v1/webhooks/endpoints/${seg(id)}` }),
      list: (query: Query<'listWebhookEndpoints'> = {}, opts?: CallOptions): Paged<ItemOf<'listWebhookEndpoints'>> =>
        this.paged<'listWebhookEndpoints'>('/v1/webhooks/endpoints', query, opts),
      update: (id: string, body: BodyOf<'updateWebhookEndpoint'>, opts?: CallOptions): Promise<ResultOf<'updateWebhookEndpoint'>> =>
        this.call({ ...opts, method: 'PATCH', path: `/v1/webhooks/endpoints/${seg(id)}`, body: { json: body } }),
      delete: (id: string, opts?: CallOptions): Promise<ResultOf<'deleteWebhookEndpoint'>> =>
        this.call({ ...opts, method: 'DELETE', path: `/v1/webhooks/endpoints/${seg(id)}` }),
      rotateSecret: (id: string, body: BodyOf<'rotateWebhookSecret'> = {} as BodyOf<'rotateWebhookSecret'>, opts?: CallOptions): Promise<ResultOf<'rotateWebhookSecret'>> =>
        this.call({ ...opts, method: 'POST', path: `/v1/webhooks/endpoints/${seg(id)}/secrets/rotate`, body: { json: body } }),
      /** Sends a test event now. */
      test: (id: string, opts?: CallOptions): Promise<ResultOf<'testWebhookEndpoint'>> =>
        this.call({ ...opts, method: 'POST', path: `/v1/webhooks/endpoints/${seg(id)}/test` }),
      /** Re-sends the endpoint's deliveries in a time range (by status). */
      replay: (id: string, body: BodyOf<'replayWebhookEndpoint'> = {}, opts?: CallOptions): Promise<ResultOf<'replayWebhookEndpoint'>> =>
        this.call({ ...opts, method: 'POST', path: `/v1/webhooks/endpoints/${seg(id)}/replay`, body: { json: body } }),
    },
    deliveries: {
      list: (query: Query<'listWebhookDeliveries'> = {}, opts?: CallOptions): Paged<ItemOf<'listWebhookDeliveries'>> =>
        this.paged<'listWebhookDeliveries'>('/v1/webhooks/deliveries', query, opts),
      get: (id: string, opts?: CallOptions): Promise<WebhookDelivery> => this.call({ ...opts, method: 'GET', path: `/v1/webhooks/deliveries/${seg(id)}` }),
      replay: (id: string, opts?: CallOptions): Promise<ResultOf<'replayWebhookDelivery'>> =>
        this.call({ ...opts, method: 'POST', path: `/v1/webhooks/deliveries/${seg(id)}/replay` }),
    },
    eventTypes: (opts?: CallOptions): Promise<ResultOf<'listWebhookEventTypes'>> => this.call({ ...opts, method: 'GET', path: '/v1/webhooks/event-types' }),
  };

  readonly stats = {
    link: (id: string, query: QueryOf<'getLinkStats'> = {}, opts?: CallOptions): Promise<LinkStats> => this.links.stats(id, query, opts),
    workspace: (query: QueryOf<'getWorkspaceStats'> = {}, opts?: CallOptions): Promise<WorkspaceStats> => this.call({ ...opts, method: 'GET', path: '/v1/stats', query }),
  };

  readonly idempotency = {
    /** What the API stored for an Idempotency-Key this API key used (the answer of a call whose response you lost). */
    recover: (key: string, opts?: CallOptions): Promise<ResultOf<'recoverIdempotentResponse'>> =>
      this.call({ ...opts, method: 'POST', path: '/v1/idempotency/recover', body: { json: { key } } }),
  };
}

/** Parses an NDJSON response body line by line as it streams. */
async function* ndjsonLines<T>(open: () => Promise<Response>): AsyncGenerator<T, void, undefined> {
  const res = await open();
  if (!res.body) return;
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      buf += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line) yield JSON.parse(line) as T;
      }
      if (done) break;
    }
    if (buf.trim()) yield JSON.parse(buf) as T;
  } finally {
    reader.releaseLock();
  }
}

/**
 * The console's only way to the control plane: the public API, same origin, with the signed-in key.
 * Errors keep the API's shape ({code, message, details}) so forms can show them by field.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> | null,
  ) {
    super(message);
  }
  /** The field the API blamed (`destination_url`, `routing.rules[0].url`), if any. */
  get field(): string | null {
    const f = this.details?.field;
    return typeof f === 'string' ? f : null;
  }
}

export type Query = Record<string, string | number | boolean | null | undefined>;

export function withQuery(path: string, query: Query = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

export interface Api {
  get<T>(path: string, query?: Query): Promise<T>;
  send<T>(method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, headers?: Record<string, string>): Promise<T>;
  /** Raw body upload (bulk files), with upload progress. */
  upload<T>(path: string, body: Blob, contentType: string, onProgress: (sent: number, total: number) => void): Promise<T>;
  blob(path: string, query?: Query): Promise<Blob>;
}

async function toError(res: Response): Promise<ApiError> {
  const text = await res.text();
  try {
    const e = (JSON.parse(text) as { error?: { code?: string; message?: string; details?: Record<string, unknown> } }).error;
    if (e?.code) return new ApiError(res.status, e.code, e.message ?? e.code, e.details ?? null);
  } catch {
    // not the API's JSON
  }
  return new ApiError(res.status, `http_${res.status}`, text.slice(0, 200) || res.statusText, null);
}

/**
 * `bearer` gives the credential of each call (an API key, or an OAuth token it renews when due);
 * `onUnauthorized` hears every 401 (a revoked key, an expired token), to sign out.
 */
export function createApi(bearer: () => Promise<string>, onUnauthorized: (err: ApiError) => void): Api {
  const authorization = async () => {
    try {
      return `Bearer ${await bearer()}`;
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) onUnauthorized(err);
      throw err;
    }
  };
  const call = async (path: string, init: RequestInit): Promise<Response> => {
    const res = await fetch(path, { ...init, headers: { authorization: await authorization(), ...(init.headers as Record<string, string>) } });
    if (!res.ok) {
      const err = await toError(res);
      if (res.status === 401) onUnauthorized(err);
      throw err;
    }
    return res;
  };
  return {
    async get<T>(path: string, query?: Query) {
      return (await (await call(withQuery(path, query), {})).json()) as T;
    },
    async send<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
      const res = await call(path, {
        method,
        headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return (text ? JSON.parse(text) : null) as T;
    },
    async blob(path: string, query?: Query) {
      return (await call(withQuery(path, query), {})).blob();
    },
    async upload<T>(path: string, body: Blob, contentType: string, onProgress: (sent: number, total: number) => void) {
      const auth = await authorization();
      // fetch has no upload progress; XMLHttpRequest does
      return new Promise<T>((resolve, reject) => {
        const xhr = new XMLHttpRequest();
        xhr.open('POST', path);
        xhr.setRequestHeader('authorization', auth);
        xhr.setRequestHeader('content-type', contentType);
        xhr.upload.onprogress = (e) => onProgress(e.loaded, e.total);
        xhr.onerror = () => reject(new ApiError(0, 'network_error', 'the upload failed (network)', null));
        xhr.onload = () => {
          const res = new Response(xhr.responseText, { status: xhr.status });
          if (xhr.status >= 200 && xhr.status < 300) resolve(JSON.parse(xhr.responseText) as T);
          else
            void toError(res).then((err) => {
              if (xhr.status === 401) onUnauthorized(err);
              reject(err);
            });
        };
        xhr.send(body);
      });
    },
  } as Api;
}

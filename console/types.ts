/** The API resources the console reads (the OpenAPI document's shapes, the fields used here). */
export type Scope = 'links:read' | 'links:write' | 'webhooks:read' | 'webhooks:write' | 'analytics:read' | 'jobs:write' | 'keys:admin' | 'audit:read' | 'links:approve' | 'policies:write';

export interface Key {
  id: string;
  name: string;
  prefix: string;
  role: string;
  scopes: Scope[];
  domains: string[] | null;
  rate_limit: { burst: number; per_second: number } | null;
  created_at: string;
  last_used_at: string | null;
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
  total_estimate?: number;
}

export interface Domain {
  id: string;
  hostname: string;
}

export interface Variant {
  id?: string;
  url: string;
  weight: number;
}

export interface RuleWhen {
  country?: string[];
  os?: string[];
  device?: string[];
  language?: string[];
  ip?: string[];
  query?: Record<string, string>;
  time?: { from?: string | null; to?: string | null; days?: number[]; hours?: [number, number]; timezone?: string };
}

export interface Rule {
  id?: string;
  when: RuleWhen;
  url?: string;
  variants?: Variant[];
}

export interface Routing {
  rules?: Rule[];
  ab?: Variant[];
}

export interface Link {
  id: string;
  domain: string;
  path: string;
  short_url: string;
  destination_url: string;
  routing: Routing | null;
  redirect_status: number | null;
  forward_query: boolean;
  tags: string[];
  expires_at: string | null;
  disabled: boolean;
  status: 'live' | 'pending';
  external_id: string | null;
  created_at: string;
  updated_at: string;
}

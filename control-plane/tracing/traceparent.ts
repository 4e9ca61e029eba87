/**
 * The W3C Trace Context `traceparent` header (https://www.w3.org/TR/trace-context/#traceparent-header):
 * `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`. Pure parse and format; anything invalid
 * parses to null (the caller starts a new trace, it never refuses the request).
 */
import { TraceFlags, type SpanContext } from '@opentelemetry/api';

const HEX = /^[0-9a-f]+$/;
const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';

/** A remote span context, or null for a missing or malformed header. */
export function parseTraceparent(header: string | undefined | null): SpanContext | null {
  if (typeof header !== 'string') return null;
  const h = header.trim();
  // version 00 is exactly 55 characters; a later version may append fields after a '-'
  if (h.length < 55 || (h.length > 55 && h[55] !== '-')) return null;
  if (h[2] !== '-' || h[35] !== '-' || h[52] !== '-') return null;
  const version = h.slice(0, 2);
  const traceId = h.slice(3, 35);
  const spanId = h.slice(36, 52);
  const flags = h.slice(53, 55);
  if (!HEX.test(version) || version === 'ff' || (version === '00' && h.length !== 55)) return null;
  if (!HEX.test(traceId) || traceId === ZERO_TRACE || !HEX.test(spanId) || spanId === ZERO_SPAN || !HEX.test(flags)) return null;
  // only the sampled bit is defined; other bits are not carried on
  return { traceId, spanId, traceFlags: parseInt(flags, 16) & TraceFlags.SAMPLED, isRemote: true };
}

export function formatTraceparent(sc: Pick<SpanContext, 'traceId' | 'spanId' | 'traceFlags'>): string {
  return `00-${sc.traceId}-${sc.spanId}-0${sc.traceFlags & TraceFlags.SAMPLED}`;
}

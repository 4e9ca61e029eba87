/**
 * Semantic checks the JSON schema cannot express: URL safety, path rules, routing coherence.
 * Each failure is a 422 naming the field (`details.field`) and the reason (`details.reason`).
 */
import ipaddr from 'ipaddr.js';
import {
  canonicalDevice,
  canonicalOs,
  checkUrl,
  normalizeLinkPath,
  type RoutingInput,
  type RuleInput,
  type VariantInput,
} from '../../shared/index.js';
import { errors } from '../errors.js';
import { parseInstant } from '../instant.js';

export function validUrl(value: string, field: string, opts: { allowPrivate?: boolean } = {}): string {
  const r = checkUrl(value, opts);
  if (!r.ok) throw errors.invalid_url({ field, reason: r.problem }, `${field}: ${r.message}`);
  return r.url;
}

export function validPath(value: string, field = 'path'): string {
  const r = normalizeLinkPath(value);
  if (!r.ok) throw errors.invalid_path({ field, reason: r.problem }, `${field}: ${r.message}`);
  return r.path;
}

const routingError = (field: string, reason: string, message: string) =>
  errors.invalid_routing({ field, reason }, `${field}: ${message}`);

function validTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function validateVariants(variants: VariantInput[], field: string): VariantInput[] {
  if (variants.length === 0) throw routingError(field, 'empty', 'needs at least one variant');
  const ids = new Set<string>();
  let total = 0;
  const out = variants.map((v, i) => {
    if (v.id !== undefined) {
      if (ids.has(v.id)) throw routingError(`${field}[${i}].id`, 'duplicate', `variant id "${v.id}" is used twice`);
      ids.add(v.id);
    }
    total += v.weight;
    return { ...v, url: validUrl(v.url, `${field}[${i}].url`) };
  });
  if (total <= 0) throw routingError(field, 'zero_weight', 'weights must add up to more than 0');
  return out;
}

function validateRule(rule: RuleInput, field: string): RuleInput {
  const hasUrl = rule.url !== undefined;
  const hasVariants = rule.variants !== undefined;
  if (hasUrl === hasVariants) throw routingError(field, 'target', 'a rule needs exactly one of url or variants');
  const w = rule.when;
  if (Object.keys(w).length === 0) throw routingError(`${field}.when`, 'empty', 'a rule needs at least one condition');
  w.os?.forEach((o, i) => {
    if (!canonicalOs(o)) throw routingError(`${field}.when.os[${i}]`, 'unknown_os', `unknown OS "${o}" (iOS, Android, Windows, macOS, Linux, ChromeOS)`);
  });
  w.device?.forEach((d, i) => {
    if (!canonicalDevice(d)) throw routingError(`${field}.when.device[${i}]`, 'unknown_device', `unknown device class "${d}" (mobile, tablet, desktop, bot)`);
  });
  const ip = w.ip?.map((c, i) => {
    try {
      const [addr, bits] = c.includes('/') ? ipaddr.parseCIDR(c) : [ipaddr.parse(c), ipaddr.parse(c).kind() === 'ipv4' ? 32 : 128];
      return `${addr.toString()}/${bits}`;
    } catch {
      throw routingError(`${field}.when.ip[${i}]`, 'invalid_cidr', `"${c}" is not an IP address or CIDR`);
    }
  });
  if (w.time) {
    const t = w.time;
    const from = t.from ? parseInstant(t.from, `${field}.when.time.from`, 'body') : null;
    const to = t.to ? parseInstant(t.to, `${field}.when.time.to`, 'body') : null;
    if (from !== null && to !== null && from >= to) throw routingError(`${field}.when.time`, 'empty_window', 'from must be before to');
    if (t.timezone !== undefined && !validTimezone(t.timezone)) throw routingError(`${field}.when.time.timezone`, 'unknown_timezone', `unknown time zone "${t.timezone}"`);
    if (t.hours && t.hours[0] === t.hours[1]) throw routingError(`${field}.when.time.hours`, 'empty_window', 'hours must not be an empty range');
  }
  return {
    ...rule,
    when: { ...w, ...(ip ? { ip } : {}) },
    ...(rule.url !== undefined ? { url: validUrl(rule.url, `${field}.url`) } : {}),
    ...(rule.variants ? { variants: validateVariants(rule.variants, `${field}.variants`) } : {}),
  };
}

/** Returns the routing with URLs and CIDRs in canonical form, or throws invalid_routing/invalid_url. */
export function validateRouting(routing: RoutingInput, field = 'routing'): RoutingInput {
  const ruleIds = new Set<string>();
  const rules = routing.rules?.map((r, i) => {
    if (r.id !== undefined) {
      if (ruleIds.has(r.id)) throw routingError(`${field}.rules[${i}].id`, 'duplicate', `rule id "${r.id}" is used twice`);
      ruleIds.add(r.id);
    }
    return validateRule(r, `${field}.rules[${i}]`);
  });
  const geo = routing.geo?.map((g, i) => ({ ...g, url: validUrl(g.url, `${field}.geo[${i}].url`) }));
  const device = routing.device?.map((d, i) => {
    if (!d.os && !d.device) throw routingError(`${field}.device[${i}]`, 'empty', 'needs os or device');
    const oses = d.os === undefined ? [] : Array.isArray(d.os) ? d.os : [d.os];
    oses.forEach((o) => {
      if (!canonicalOs(o)) throw routingError(`${field}.device[${i}].os`, 'unknown_os', `unknown OS "${o}"`);
    });
    const devices = d.device === undefined ? [] : Array.isArray(d.device) ? d.device : [d.device];
    devices.forEach((x) => {
      if (!canonicalDevice(x)) throw routingError(`${field}.device[${i}].device`, 'unknown_device', `unknown device class "${x}"`);
    });
    return { ...d, url: validUrl(d.url, `${field}.device[${i}].url`) };
  });
  const ab = routing.ab ? validateVariants(routing.ab, `${field}.ab`) : undefined;
  return {
    ...(rules ? { rules } : {}),
    ...(geo ? { geo } : {}),
    ...(device ? { device } : {}),
    ...(ab ? { ab } : {}),
  };
}

/**
 * User agent → OS and device class (ua-parser-js), bot flag (isbot). Parsing costs tens of µs, so
 * it only runs when a link has an OS/device condition (its `needs.userAgent`) or a click is being
 * captured, and results are cached per user-agent string.
 */
import { isbot } from 'isbot';
import { UAParser } from 'ua-parser-js';
import type { DeviceClass, OsName } from '../shared/index.js';
import { BoundedCache } from './bounded-cache.js';

export interface DeviceInfo {
  os: OsName | null;
  device: DeviceClass;
  browser: string | null;
  bot: boolean;
}

const LINUX_DISTROS = new Set([
  'linux', 'ubuntu', 'debian', 'fedora', 'arch', 'mint', 'gentoo', 'opensuse', 'redhat', 'centos', 'slackware',
  'manjaro', 'kubuntu', 'xubuntu', 'deepin', 'mageia', 'mandriva', 'pclinuxos', 'raspbian', 'elementary os', 'zenwalk',
]);

export function canonicalOsName(name: string | undefined): OsName | null {
  if (!name) return null;
  const n = name.toLowerCase();
  if (n === 'ios' || n === 'ipados') return 'ios';
  if (n === 'android') return 'android';
  if (n === 'windows') return 'windows';
  if (n === 'macos' || n === 'mac os') return 'macos';
  if (n === 'chrome os' || n === 'chromium os') return 'chromeos';
  if (LINUX_DISTROS.has(n)) return 'linux';
  return null;
}

export function classifyUserAgent(ua: string): DeviceInfo {
  const bot = ua.length === 0 || isbot(ua);
  const parser = new UAParser(ua);
  const os = canonicalOsName(parser.getOS().name);
  const type = parser.getDevice().type;
  const device: DeviceClass = bot ? 'bot' : type === 'mobile' || type === 'wearable' ? 'mobile' : type === 'tablet' ? 'tablet' : 'desktop';
  return { os, device, browser: parser.getBrowser().name ?? null, bot };
}

export type DeviceDetector = (userAgent: string) => DeviceInfo;

export function createDeviceDetector(cacheSize: number): DeviceDetector {
  const cache = new BoundedCache<string, DeviceInfo>(cacheSize);
  return (ua) => {
    // very long agents are not worth caching (and are not real browsers)
    return cache.through(ua.length > 512 ? ua.slice(0, 512) : ua, classifyUserAgent);
  };
}

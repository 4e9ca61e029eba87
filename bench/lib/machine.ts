/** The machine a run happened on, stored with every result (numbers from different machines do not compare). */
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { cpuPlan } from './cpu-pin.js';

export interface MachineInfo {
  cores: number;
  cpuModel: string;
  cpuMHz: number;
  memoryGB: number;
  kernel: string;
  node: string;
  /** 1-minute load average when the scenario started and ended: above `cores`, others were busy too. */
  loadAtStart: number;
  loadAtEnd?: number;
  serverCpus: string | null;
  clientCpus: string | null;
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1]!.trim();
  } catch {
    // not Linux
  }
  return cpus()[0]?.model ?? 'unknown';
}

export function machineInfo(): MachineInfo {
  const plan = cpuPlan();
  return {
    cores: availableParallelism(),
    cpuModel: cpuModel(),
    cpuMHz: Math.round(cpus()[0]?.speed ?? 0),
    memoryGB: Math.round(totalmem() / 1024 ** 3),
    kernel: release(),
    node: process.version,
    loadAtStart: Math.round(loadavg()[0]! * 100) / 100,
    serverCpus: plan.server,
    clientCpus: plan.client,
  };
}

export function currentLoad(): number {
  return Math.round(loadavg()[0]! * 100) / 100;
}

/** The machine the benchmark ran on, and plain-text tables for its results. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface MachineInfo {
  date: string;
  cpuModel: string;
  cpus: number;
  memTotalGiB: number;
  memAvailableGiB: number;
  node: string;
  kernel: string;
  wrk: string;
  /** 1/5/15-minute load averages when the run started (other work on the machine skews results). */
  loadAverage: number[];
}

export function machineInfo(wrkVersion: string): MachineInfo {
  const cpuinfo = safeRead('/proc/cpuinfo');
  const meminfo = safeRead('/proc/meminfo');
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(meminfo)?.[1] ?? 0);
  let cpus = os.availableParallelism();
  try {
    cpus = Number(execFileSync('nproc', { encoding: 'utf8' }).trim()) || cpus;
  } catch {
    // nproc missing: keep node's count
  }
  return {
    date: new Date().toISOString(),
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown',
    cpus,
    memTotalGiB: round(kib('MemTotal') / 1024 / 1024, 1),
    memAvailableGiB: round(kib('MemAvailable') / 1024 / 1024, 1),
    node: process.version,
    kernel: os.release(),
    wrk: wrkVersion,
    loadAverage: os.loadavg().map((l) => round(l, 2)),
  };
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

export function round(n: number, digits = 2): number {
  if (!Number.isFinite(n)) return n;
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export function fmt(n: number | undefined, digits = 2): string {
  if (n === undefined || Number.isNaN(n)) return '-';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** `+1.23` / `-1.23`. */
export function signed(n: number, digits = 2): string {
  return `${n >= 0 ? '+' : ''}${fmt(n, digits)}`;
}

/** Left-aligned first column, right-aligned others. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

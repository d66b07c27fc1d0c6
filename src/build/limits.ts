/** Size limits for one package build, and the one place bytes are formatted for messages. */

export interface BuildLimits {
  /** Largest zip accepted, in bytes. */
  maxZipBytes: number;
  /** Largest total size of the unpacked files, in bytes (counted while streaming). */
  maxUnzippedBytes: number;
  /** Most files (regular files and symlinks; directories do not count) in one package. */
  maxFiles: number;
}

const MiB = 1024 * 1024;

/** Lambda's limits: 50 MiB zipped, 250 MiB unzipped; plus a file count that keeps builds fast. */
export const DEFAULT_BUILD_LIMITS: BuildLimits = Object.freeze({
  maxZipBytes: 50 * MiB,
  maxUnzippedBytes: 250 * MiB,
  maxFiles: 20_000,
});

export function resolveLimits(overrides: Partial<BuildLimits> | undefined): BuildLimits {
  const limits = { ...DEFAULT_BUILD_LIMITS };
  for (const key of Object.keys(DEFAULT_BUILD_LIMITS) as (keyof BuildLimits)[]) {
    const value = overrides?.[key];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new TypeError(`build limit ${key} must be a non-negative integer, got ${String(value)}`);
    }
    limits[key] = value;
  }
  return limits;
}

/** `34 KB`, `1.5 MB`: base 1024, one decimal below 10. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB'] as const;
  let value = bytes / 1024;
  let unit: string = units[0];
  for (let i = 1; i < units.length && value >= 1024; i++) {
    value /= 1024;
    unit = units[i] ?? unit;
  }
  const shown = value < 10 ? Math.round(value * 10) / 10 : Math.round(value);
  return `${shown} ${unit}`;
}

/** `262144000 bytes (250 MB)`: exact for configuration, readable for people. */
export function describeLimit(bytes: number): string {
  return `${bytes} bytes (${formatBytes(bytes)})`;
}

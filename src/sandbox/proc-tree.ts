import { closeSync, openSync, readSync } from 'node:fs';

const PAGE = 4096;

/** One process's `/proc` files the watchdog reads, opened once and re-read in place. */
interface ProcFiles {
  statm: number;
  children: number;
}

/** Shared by every reader: the main thread reads one file at a time. */
let scratch = Buffer.alloc(4096);

/**
 * Reads the resident memory of a process and all its descendants from `/proc`, for the memory
 * watchdog, which asks every 50 ms for each busy instance. Each process's `statm` and
 * `children` files stay open between reads and are re-read from offset 0 (procfs regenerates
 * them): one `pread` per file instead of open, fstat, read, read and close. A file opened for a
 * process keeps referring to that process, so once it exits its reads fail (ESRCH) rather than
 * report whatever process reuses the number; it is then closed.
 */
export class ProcTreeReader {
  readonly #root: number;
  readonly #open = new Map<number, ProcFiles>();

  constructor(rootPid: number) {
    this.#root = rootPid;
  }

  /** The root and its descendants, each with its resident bytes; processes gone meanwhile are left out. */
  read(): { pid: number; rssBytes: number }[] {
    const out: { pid: number; rssBytes: number }[] = [];
    const seen = new Set<number>();
    const stack = [this.#root];
    while (stack.length > 0) {
      const pid = stack.pop()!;
      if (seen.has(pid)) continue;
      seen.add(pid);
      const files = this.#files(pid);
      if (!files) continue;
      try {
        const statm = readWhole(files.statm);
        out.push({ pid, rssBytes: Number(statm.split(' ', 2)[1]) * PAGE });
        const kids = readWhole(files.children).trim();
        if (kids) for (const k of kids.split(' ')) stack.push(Number(k));
      } catch {
        // the process went away between reads
        this.#forget(pid);
      }
    }
    for (const pid of this.#open.keys()) if (!seen.has(pid)) this.#forget(pid);
    return out;
  }

  /** Closes every file still open (the process tree has exited). */
  close(): void {
    for (const pid of [...this.#open.keys()]) this.#forget(pid);
  }

  #files(pid: number): ProcFiles | undefined {
    let files = this.#open.get(pid);
    if (files) return files;
    let statm: number | undefined;
    try {
      statm = openSync(`/proc/${pid}/statm`, 'r');
      files = { statm, children: openSync(`/proc/${pid}/task/${pid}/children`, 'r') };
    } catch {
      if (statm !== undefined) closeSync(statm);
      return undefined; // already gone
    }
    this.#open.set(pid, files);
    return files;
  }

  #forget(pid: number): void {
    const files = this.#open.get(pid);
    if (!files) return;
    this.#open.delete(pid);
    closeSync(files.statm);
    closeSync(files.children);
  }
}

/** The whole content of an open procfs file, read from offset 0. */
function readWhole(fd: number): string {
  let length = readSync(fd, scratch, 0, scratch.length, 0);
  while (length === scratch.length) {
    // a long children list: read it again, whole, into a larger buffer
    scratch = Buffer.alloc(scratch.length * 2);
    length = readSync(fd, scratch, 0, scratch.length, 0);
  }
  return scratch.toString('latin1', 0, length);
}

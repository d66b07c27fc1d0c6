import type { Instance, Sandbox } from '../sandbox/index.ts';

/**
 * Pre-started generic processes per runtime class (runtime + memory size, since Node's heap
 * limit is fixed at start). A cold start takes one and specialises it, so it pays for loading
 * the function's code, not for starting an interpreter; a replacement starts in the background.
 */
export class SpareProcesses {
  readonly #sandbox: Sandbox;
  readonly #count: number;
  readonly #warn: (message: string) => void;
  readonly #ready = new Map<string, Promise<Instance>[]>();
  #draining = false;

  constructor(sandbox: Sandbox, count: number, warn: (message: string) => void) {
    this.#sandbox = sandbox;
    this.#count = count;
    this.#warn = warn;
  }

  keepReady(runtime: 'node' | 'python', memoryMB: number): void {
    const key = classKey(runtime, memoryMB);
    let list = this.#ready.get(key);
    if (!list) this.#ready.set(key, (list = []));
    while (list.length < this.#count && !this.#draining) list.push(this.#start(runtime, memoryMB));
  }

  /**
   * A started generic process (waits for the spare if it is still starting, else starts one).
   * The replacement is not started here: spawning costs the event loop ~5 ms and the new
   * process competes for CPU with the cold start it would slow down; the pool refills once
   * the cold start has answered (`keepReady`).
   */
  async take(runtime: 'node' | 'python', memoryMB: number): Promise<Instance> {
    const list = this.#ready.get(classKey(runtime, memoryMB));
    const spare = list?.shift();
    if (spare) {
      const instance = await spare.catch(() => undefined);
      if (instance?.alive) return instance;
    }
    return this.#sandbox.startGeneric(runtime, memoryMB);
  }

  async drain(): Promise<void> {
    this.#draining = true;
    const all = [...this.#ready.values()].flat();
    this.#ready.clear();
    await Promise.all(all.map(async (p) => {
      const instance = await p.catch(() => undefined);
      if (!instance) return;
      const exited = new Promise<void>((resolve) => instance.onExit(() => resolve()));
      instance.kill();
      await exited;
    }));
  }

  #start(runtime: 'node' | 'python', memoryMB: number): Promise<Instance> {
    const p = this.#sandbox.startGeneric(runtime, memoryMB);
    p.then((instance) => {
      // a spare that dies while waiting is replaced
      instance.onExit(() => {
        const list = this.#ready.get(classKey(runtime, memoryMB));
        const i = list?.indexOf(p) ?? -1;
        if (list && i !== -1) {
          list.splice(i, 1);
          if (!this.#draining) this.keepReady(runtime, memoryMB);
        }
      });
    }, (err: Error) => this.#warn(`could not pre-start a ${runtime} process: ${err.message}`));
    return p;
  }
}

function classKey(runtime: string, memoryMB: number): string {
  return runtime === 'node' ? `node:${memoryMB}` : runtime;
}

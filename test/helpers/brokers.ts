/**
 * The real brokers the queue trigger tests use: NATS with JetStream on 127.0.0.1:4222 and
 * Mosquitto on 127.0.0.1:1883. A broker that is down is started the way the machine starts
 * it; a test never stops a broker it did not start. `startNats` runs a private NATS server
 * (for outage tests) that the test owns and stops by its PID.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const NATS_URL = 'nats://127.0.0.1:4222';
export const MQTT_URL = 'mqtt://127.0.0.1:1883';

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export function listening(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function waitListening(port: number, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await listening(port)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** NATS (JetStream) on 4222: started with the machine's own command when down. */
export async function ensureNats(): Promise<void> {
  if (await listening(4222)) return;
  await run('start-stop-daemon', ['--start', '--oknodo', '--background', '--exec', '/usr/sbin/nats-server', '--',
    '-a', '127.0.0.1', '-p', '4222', '-js', '-sd', '/var/lib/nats-server', '-l', '/var/log/nats-server.log']);
  if (!(await waitListening(4222, 10_000))) throw new Error('NATS did not start on 127.0.0.1:4222 (see /var/log/nats-server.log)');
}

/** Mosquitto on 1883: started with the machine's own config when down. */
export async function ensureMosquitto(): Promise<void> {
  if (await listening(1883)) return;
  await run('mosquitto', ['-d', '-c', '/etc/mosquitto/mosquitto.conf']);
  if (!(await waitListening(1883, 10_000))) throw new Error('Mosquitto did not start on 127.0.0.1:1883 (see /var/log/mosquitto/mosquitto.log)');
}

export interface OwnNats {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** A NATS server with JetStream on `port`, storing in a fresh folder: ours to stop (by PID). */
export async function startNats(port: number): Promise<OwnNats> {
  if (await listening(port)) throw new Error(`port ${port} is already in use; the test needs it free`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'aviary-nats-'));
  const child: ChildProcess = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], { stdio: 'ignore' });
  const pid = child.pid;
  if (pid === undefined) throw new Error('nats-server did not start');
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const killOnExit = (): void => {
    if (child.exitCode === null) process.kill(pid, 'SIGKILL');
  };
  process.once('exit', killOnExit);
  if (!(await waitListening(port, 10_000))) {
    killOnExit();
    throw new Error(`nats-server did not listen on ${port}`);
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    pid,
    async stop() {
      process.off('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(pid, 'SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Limits both sides need: the server enforces them, and the CLI checks them before it spends
 * time on an upload the server would refuse. (The server-wide limits are fixed; docs/limits.md.)
 */

/** A zipped code package, as uploaded. */
export const MAX_PACKAGE_BYTES = 50 * 1024 * 1024;

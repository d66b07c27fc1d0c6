#!/usr/bin/env node
// The `aviary` command. Checked here, before any TypeScript loads, so an old Node gets a clear
// message instead of a syntax error: Aviary runs its TypeScript sources directly (Node >= 24
// strips types) and uses node:sqlite.
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  process.stderr.write(
    `aviary needs Node.js 24 or newer; this is ${process.version}.\n` +
      'Install it (https://nodejs.org), or in this checkout run: source scripts/use-node24.sh\n',
  );
  process.exit(1);
}
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));

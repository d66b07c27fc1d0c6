// Imported once by bootstrap.mjs while the process is still generic (see primeLoader there):
// the first import() of a process sets up node's module loader and its CommonJS export scanner,
// which would otherwise happen during a function's cold start.
exports.primed = true;

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AviaryError } from '../../src/shared/errors.ts';
import { RouteTable, validateRoute } from '../../src/http/triggers/routes.ts';

function table(routes: string[]): RouteTable<string> {
  const t = new RouteTable<string>();
  for (const key of routes) {
    const [method, path] = key.split(' ') as [string, string];
    t.add(method, path, key);
  }
  return t;
}

function winner(t: RouteTable<string>, method: string, path: string): string | undefined {
  return t.match(method, path)?.value;
}

test('validateRoute accepts the documented shapes', () => {
  for (const path of ['/', '/hello', '/hello/{name}', '/a/{x}/b/{y_2}', '/{proxy+}', '/static/{path+}', "/a-b.c_d~e/!$&'()+,;=:@"]) {
    assert.deepStrictEqual(validateRoute('GET', path), [], path);
  }
  for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'ANY']) {
    assert.deepStrictEqual(validateRoute(method, '/x'), [], method);
  }
});

test('validateRoute reports every problem', () => {
  const cases: Array<[unknown, unknown, Array<{ path: string; message: string }>]> = [
    ['get', '/x', [{ path: 'method', message: 'must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or ANY, got "get"' }]],
    ['CONNECT', '/x', [{ path: 'method', message: 'must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or ANY, got "CONNECT"' }]],
    ['GET', 42, [{ path: 'path', message: 'must be a string, got 42' }]],
    ['GET', 'hello', [{ path: 'path', message: 'must start with "/", got "hello"' }]],
    ['GET', '', [{ path: 'path', message: 'must start with "/", got ""' }]],
    ['GET', `/${'a'.repeat(512)}`, [{ path: 'path', message: 'must be at most 512 characters, got 513' }]],
    ['GET', '/a/*', [{ path: 'path', message: 'must not contain "*"; to match every sub-path end it with a greedy segment such as /{proxy+}' }]],
    ['GET', '/a//b', [{ path: 'path', message: 'must not contain empty segments ("//" or a trailing "/")' }]],
    ['GET', '/a/', [{ path: 'path', message: 'must not contain empty segments ("//" or a trailing "/")' }]],
    ['GET', '/a b', [{ path: 'path', message: 'segment "a b" has characters not allowed in a route path; use letters, digits and - . _ ~ ! $ & \' ( ) + , ; = : @' }]],
    ['GET', '/a%20b', [{ path: 'path', message: 'segment "a%20b" has characters not allowed in a route path; use letters, digits and - . _ ~ ! $ & \' ( ) + , ; = : @' }]],
    ['GET', '/a?b', [{ path: 'path', message: 'segment "a?b" has characters not allowed in a route path; use letters, digits and - . _ ~ ! $ & \' ( ) + , ; = : @' }]],
    ['GET', '/{a-b}', [{ path: 'path', message: 'segment "{a-b}" is not a valid parameter: write {name} or {name+} as a whole segment, names use letters, digits and _' }]],
    ['GET', '/x{a}', [{ path: 'path', message: 'segment "x{a}" is not a valid parameter: write {name} or {name+} as a whole segment, names use letters, digits and _' }]],
    ['GET', '/{}', [{ path: 'path', message: 'segment "{}" is not a valid parameter: write {name} or {name+} as a whole segment, names use letters, digits and _' }]],
    ['GET', '/{proxy+}/x', [{ path: 'path', message: 'greedy segment "{proxy+}" must be the last segment' }]],
    ['GET', '/{id}/{id}', [{ path: 'path', message: 'parameter "id" appears more than once' }]],
    ['ANY', '/{id}/{id+}', [{ path: 'path', message: 'parameter "id" appears more than once' }]],
  ];
  for (const [method, path, issues] of cases) {
    assert.deepStrictEqual(validateRoute(method, path), issues, `${String(method)} ${String(path)}`);
  }
  assert.deepStrictEqual(
    validateRoute('nope', '/a//{b-}/{c+}/d').map((i) => i.path),
    ['method', 'path', 'path', 'path'],
  );
});

test('add rejects invalid routes with a ValidationError listing the issues', () => {
  const t = new RouteTable<string>();
  assert.throws(
    () => t.add('GET', '/a/*', 'x'),
    (err: unknown) => err instanceof AviaryError && err.code === 'ValidationError' && err.issues?.length === 1 && err.message.startsWith('invalid route: path: must not contain "*"'),
  );
  assert.equal(t.size, 0);
});

test('the same method and path shape twice is a RouteConflict naming the owner', () => {
  const t = new RouteTable<{ fn: string }>();
  const add = (method: string, path: string, fn: string): void => t.add(method, path, { fn }, `function ${fn}`);
  add('GET', '/a/{x}', 'hello');
  const conflict = (method: string, path: string, message: string): void => {
    assert.throws(() => t.add(method, path, { fn: 'other' }), (err: unknown) => {
      assert.ok(err instanceof AviaryError);
      assert.equal(err.code, 'RouteConflict');
      assert.equal(err.message, message);
      return true;
    });
  };
  conflict('GET', '/a/{x}', 'route GET /a/{x} already exists (function hello); delete it first with `aviary route delete GET /a/{x}`');
  conflict('GET', '/a/{y}', 'route GET /a/{x} already exists (function hello); delete it first with `aviary route delete GET /a/{x}`');
  add('ANY', '/a/{x}', 'any');
  add('POST', '/a/{x}', 'post');
  add('GET', '/a/{x+}', 'greedy');
  add('GET', '/a/b', 'literal');
  add('GET', '/', 'root');
  conflict('GET', '/a/{rest+}', 'route GET /a/{x+} already exists (function greedy); delete it first with `aviary route delete GET /a/{x+}`');
  conflict('ANY', '/a/{z}', 'route ANY /a/{x} already exists (function any); delete it first with `aviary route delete ANY /a/{x}`');
  conflict('GET', '/', 'route GET / already exists (function root); delete it first with `aviary route delete GET /`');
  assert.equal(t.size, 6);

  const bare = new RouteTable<number>();
  bare.add('GET', '/x', 1);
  assert.throws(() => bare.add('GET', '/x', 2), { message: 'route GET /x already exists; delete it first with `aviary route delete GET /x`' });
});

test('precedence: literal > {param} > {greedy+}, segment by segment from the left', () => {
  const t = table(['GET /pets/dog', 'GET /pets/{id}', 'GET /pets/{proxy+}', 'GET /{a}/dog', 'GET /a/{x}/c', 'GET /{y}/b/c']);
  assert.equal(winner(t, 'GET', '/pets/dog'), 'GET /pets/dog');
  assert.equal(winner(t, 'GET', '/pets/cat'), 'GET /pets/{id}');
  assert.equal(winner(t, 'GET', '/pets/cat/1'), 'GET /pets/{proxy+}');
  assert.equal(winner(t, 'GET', '/cats/dog'), 'GET /{a}/dog');
  assert.equal(winner(t, 'GET', '/a/b/c'), 'GET /a/{x}/c');
  assert.equal(winner(t, 'GET', '/z/b/c'), 'GET /{y}/b/c');
  // Backtracking: the literal branch /a/… has no fit, the param branch does.
  const bt = table(['GET /a/x', 'GET /{p}/y']);
  assert.equal(winner(bt, 'GET', '/a/y'), 'GET /{p}/y');
});

test('precedence: a full match beats a greedy one, however many literals the greedy route has', () => {
  const t = table(['GET /a/b/{proxy+}', 'GET /{x}/{y}/{z}']);
  assert.equal(winner(t, 'GET', '/a/b/c'), 'GET /{x}/{y}/{z}');
  assert.equal(winner(t, 'GET', '/a/b/c/d'), 'GET /a/b/{proxy+}');
  const greedy = table(['ANY /{proxy+}', 'GET /a/{proxy+}', 'GET /a/b/{proxy+}', 'GET /{x}/b/{proxy+}']);
  assert.equal(winner(greedy, 'GET', '/a/b/c'), 'GET /a/b/{proxy+}');
  assert.equal(winner(greedy, 'GET', '/a/c/d'), 'GET /a/{proxy+}');
  assert.equal(winner(greedy, 'GET', '/z/b/c'), 'GET /{x}/b/{proxy+}');
  assert.equal(winner(greedy, 'POST', '/a/b/c'), 'ANY /{proxy+}');
});

test('precedence: a specific method beats ANY at the same path; the path comes first', () => {
  const t = table(['ANY /items', 'POST /items', 'GET /items/{id}', 'ANY /items/special']);
  assert.equal(winner(t, 'POST', '/items'), 'POST /items');
  assert.equal(winner(t, 'GET', '/items'), 'ANY /items');
  assert.equal(winner(t, 'GET', '/items/special'), 'ANY /items/special');
  assert.equal(winner(t, 'GET', '/items/7'), 'GET /items/{id}');
  assert.equal(winner(t, 'DELETE', '/items/7'), undefined);
  // HEAD is its own method, as on API Gateway.
  assert.equal(winner(table(['GET /x']), 'HEAD', '/x'), undefined);
});

test("AWS's routing example", () => {
  const t = table(['GET /pets/dog/1', 'GET /pets/dog/{id}', 'GET /pets/{proxy+}', 'ANY /{proxy+}']);
  assert.equal(winner(t, 'GET', '/pets/dog/1'), 'GET /pets/dog/1');
  assert.equal(winner(t, 'GET', '/pets/dog/2'), 'GET /pets/dog/{id}');
  assert.equal(winner(t, 'GET', '/pets/cat/1'), 'GET /pets/{proxy+}');
  assert.equal(winner(t, 'POST', '/pets/dog/1'), 'ANY /{proxy+}');
});

test('match returns routeKey and path parameters', () => {
  const t = table(['GET /hello/{name}', 'ANY /files/{bucket}/{key+}', 'GET /static']);
  assert.deepStrictEqual(t.match('GET', '/hello/world'), { value: 'GET /hello/{name}', routeKey: 'GET /hello/{name}', pathParameters: { name: 'world' } });
  assert.deepStrictEqual(t.match('PUT', '/files/b1/a/b/c.txt'), {
    value: 'ANY /files/{bucket}/{key+}',
    routeKey: 'ANY /files/{bucket}/{key+}',
    pathParameters: { bucket: 'b1', key: 'a/b/c.txt' },
  });
  assert.deepStrictEqual(t.match('GET', '/static'), { value: 'GET /static', routeKey: 'GET /static', pathParameters: undefined });
  assert.deepStrictEqual(t.match('GET', '/hello/world?x=1')?.pathParameters, { name: 'world' });
  const proto = table(['GET /p/{__proto__}']);
  const m = proto.match('GET', '/p/v')!;
  assert.equal(Object.getPrototypeOf(m.pathParameters), Object.prototype);
  assert.equal(JSON.stringify(m.pathParameters), '{"__proto__":"v"}');
});

test('greedy variables need a non-empty rest and keep trailing slashes', () => {
  const t = table(['ANY /{proxy+}', 'GET /a/{rest+}']);
  assert.equal(winner(t, 'GET', '/'), undefined);
  assert.deepStrictEqual(t.match('GET', '/x/y/z')?.pathParameters, { proxy: 'x/y/z' });
  assert.deepStrictEqual(t.match('GET', '/x/')?.pathParameters, { proxy: 'x/' });
  assert.deepStrictEqual(t.match('GET', '/a/b/')?.pathParameters, { rest: 'b/' });
  assert.deepStrictEqual(t.match('GET', '/a//b')?.pathParameters, { rest: '/b' });
  // /a and /a/ are not matched by /a/{rest+}; the catch-all takes them.
  assert.equal(winner(t, 'GET', '/a'), 'ANY /{proxy+}');
  assert.deepStrictEqual(t.match('GET', '/a/')?.pathParameters, { proxy: 'a/' });
  assert.equal(winner(table(['GET /a/{rest+}']), 'GET', '/a/'), undefined);
});

test('trailing slashes and empty segments are significant', () => {
  const t = table(['GET /a', 'GET /a/{x}', 'GET /']);
  assert.equal(winner(t, 'GET', '/a'), 'GET /a');
  assert.equal(winner(t, 'GET', '/a/'), undefined);
  assert.equal(winner(t, 'GET', '//a'), undefined);
  assert.equal(winner(t, 'GET', '/a//'), undefined);
  assert.equal(winner(t, 'GET', '/'), 'GET /');
  assert.equal(winner(t, 'GET', ''), undefined);
  assert.equal(winner(t, 'GET', '*'), undefined);
});

test('path parameters are percent-decoded; literals match decoded segments', () => {
  const t = table(['GET /hello/{name}', 'GET /files/{path+}', 'GET /lit/hello']);
  assert.deepStrictEqual(t.match('GET', '/hello/w%C3%B6rld%20%2B%201')?.pathParameters, { name: 'wörld + 1' });
  assert.deepStrictEqual(t.match('GET', '/hello/a%2Fb')?.pathParameters, { name: 'a/b' });
  assert.deepStrictEqual(t.match('GET', '/hello/100%25')?.pathParameters, { name: '100%' });
  assert.deepStrictEqual(t.match('GET', '/hello/bad%zz')?.pathParameters, { name: 'bad%zz' });
  assert.deepStrictEqual(t.match('GET', '/files/a%20b/c%2Fd/e')?.pathParameters, { path: 'a b/c/d/e' });
  assert.equal(winner(t, 'GET', '/lit/h%65llo'), 'GET /lit/hello');
  assert.deepStrictEqual(t.match('GET', '/hello/a+b')?.pathParameters, { name: 'a+b' });
});

test('remove deletes by method and path shape, and the table stays consistent', () => {
  const t = table(['GET /a', 'ANY /a', 'GET /a/{x}', 'GET /a/{x}/b', 'GET /a/{p+}', 'GET /']);
  assert.equal(t.size, 6);
  assert.equal(t.remove('GET', '/a'), true);
  assert.equal(winner(t, 'GET', '/a'), 'ANY /a');
  assert.equal(t.remove('GET', '/a'), false);
  assert.equal(t.remove('ANY', '/a'), true);
  assert.equal(winner(t, 'GET', '/a'), undefined);
  assert.equal(t.remove('GET', '/a/{y}'), true);
  assert.equal(winner(t, 'GET', '/a/1'), 'GET /a/{p+}');
  assert.equal(winner(t, 'GET', '/a/1/b'), 'GET /a/{x}/b');
  assert.equal(t.remove('GET', '/a/{x}/b'), true);
  assert.equal(winner(t, 'GET', '/a/1/b'), 'GET /a/{p+}');
  assert.equal(t.remove('GET', '/a/{q+}'), true);
  assert.equal(winner(t, 'GET', '/a/1/b'), undefined);
  assert.equal(t.remove('POST', '/'), false);
  assert.equal(t.remove('GET', '/nope/{x}'), false);
  assert.equal(t.remove('GET', 'invalid'), false);
  assert.equal(t.remove('GET', '/'), true);
  assert.equal(t.size, 0);
  // Removed routes can be added again.
  t.add('GET', '/a/{x}', 'again');
  t.add('GET', '/a', 'again-static');
  assert.equal(winner(t, 'GET', '/a/1'), 'again');
  assert.equal(winner(t, 'GET', '/a'), 'again-static');
  assert.equal(t.size, 2);
});

test('1,000 routes: every one matches itself, and matching takes microseconds', () => {
  const t = new RouteTable<string>();
  const probes: Array<[string, string, string, Record<string, string> | undefined]> = [];
  const methods = ['GET', 'POST', 'PUT', 'DELETE', 'ANY'];
  for (let i = 0; i < 1000; i++) {
    const method = methods[i % methods.length]!;
    let path: string;
    let probe: string;
    let params: Record<string, string> | undefined;
    switch (i % 4) {
      case 0:
        path = `/svc${i}/items`;
        probe = path;
        break;
      case 1:
        path = `/svc${i}/items/{id}`;
        probe = `/svc${i}/items/it-${i}`;
        params = { id: `it-${i}` };
        break;
      case 2:
        path = `/svc${i % 50}/v${i}/{a}/sub/{b}`;
        probe = `/svc${i % 50}/v${i}/x${i}/sub/y`;
        params = { a: `x${i}`, b: 'y' };
        break;
      default:
        path = `/assets${i}/{path+}`;
        probe = `/assets${i}/deep/er/file-${i}.js`;
        params = { path: `deep/er/file-${i}.js` };
    }
    const key = `${method} ${path}`;
    t.add(method, path, key);
    probes.push([method === 'ANY' ? 'PATCH' : method, probe, key, params]);
  }
  t.add('ANY', '/{proxy+}', 'catch-all');
  assert.equal(t.size, 1001);
  for (const [method, probe, key, params] of probes) {
    const m = t.match(method, probe);
    assert.equal(m?.value, key, probe);
    assert.deepStrictEqual(m.pathParameters, params, probe);
  }
  assert.equal(t.match('GET', '/nowhere/at/all')?.value, 'catch-all');
  assert.equal(t.match('OPTIONS', '/svc0/items')?.value, 'catch-all');

  const rounds = 20;
  const start = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) for (const [method, probe] of probes) t.match(method, probe);
  const perMatchUs = Number(process.hrtime.bigint() - start) / 1000 / (rounds * probes.length);
  // Typically well under 1 µs; the bound only catches a linear scan gone wrong on a slow CI box.
  assert.ok(perMatchUs < 50, `${perMatchUs.toFixed(2)} µs per match`);
});

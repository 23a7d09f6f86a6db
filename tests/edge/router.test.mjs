// Routing decisions of modules/static_site/spa-router.js, run on Node's test runner.
// The CloudFront runtime has no module system, so the file is evaluated as-is and its
// `handler` function is taken from the evaluated text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const source = readFileSync(new URL('../../modules/static_site/spa-router.js', import.meta.url), 'utf8');
const handler = new Function(`${source}; return handler;`)();

function route(uri, querystring = {}) {
  const request = { method: 'GET', uri, querystring, headers: { host: { value: 'console.hebo.ai' } }, cookies: {} };
  return handler({ version: '1.0', context: { eventType: 'viewer-request' }, viewer: { ip: '192.0.2.1' }, request });
}

const cases = [
  // [request uri, uri sent to the origin, why]
  ['/', '/index.html', 'root serves the app'],
  ['/index.html', '/index.html', 'the app shell itself'],
  ['/projects', '/index.html', 'deep link'],
  ['/projects/42/settings', '/index.html', 'nested deep link'],
  ['/settings/', '/index.html', 'trailing slash is a route, not a directory'],
  ['/assets/app-3f9a1c.js', '/assets/app-3f9a1c.js', 'hashed script served as a file'],
  ['/assets/style-8b2e.css', '/assets/style-8b2e.css', 'stylesheet served as a file'],
  ['/assets/missing-000000.js', '/assets/missing-000000.js', 'missing asset stays a file (404), never HTML'],
  ['/favicon.ico', '/favicon.ico', 'root file'],
  ['/robots.txt', '/robots.txt', 'root file'],
  ['/config.json', '/config.json', 'runtime configuration'],
  ['/manifest.webmanifest', '/manifest.webmanifest', 'multi-letter extension'],
  ['/assets/app.js.map', '/assets/app.js.map', 'double extension'],
  ['/.well-known/apple-app-site-association', '/.well-known/apple-app-site-association', 'well-known files pass through'],
  ['/.hidden', '/index.html', 'dot-file name has no extension: app route'],
  ['/release/v1.', '/index.html', 'trailing dot is not an extension'],
  ['/v1.2/projects', '/index.html', 'dot in an earlier segment does not make a file'],
];

for (const [uri, expected, why] of cases) {
  test(`${uri} -> ${expected} (${why})`, () => {
    assert.equal(route(uri).uri, expected);
  });
}

test('returns the request (not a response) and keeps the query string and headers', () => {
  const result = route('/projects/42', { tab: { value: 'keys' } });
  assert.equal(result.statusCode, undefined);
  assert.deepEqual(result.querystring, { tab: { value: 'keys' } });
  assert.equal(result.headers.host.value, 'console.hebo.ai');
});

test('the file defines only `handler` and uses no module syntax the runtime rejects', () => {
  assert.doesNotMatch(source, /\b(module\.exports|exports\.|require\(|import |export )/);
});

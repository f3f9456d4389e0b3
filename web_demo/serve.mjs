#!/usr/bin/env node
// Static server for the web demo, on 127.0.0.1 only. It adds the COOP/COEP headers that make the page
// cross-origin isolated (SharedArrayBuffer, so LiteRT.js's threaded WASM build can run) and serves:
//   /                       this folder (index.html, js/, style.css)
//   /node_modules/@litertjs the LiteRT.js ES modules and WASM files installed by `npm ci`
//   /models/                the exported models: every *.tflite with its contract <name>.tflite.json,
//                           listed at /models/index.json (the exporter's sidecar naming rule)
//   /reference/selfie_segmentation.tflite   MediaPipe's model, for the in-page benchmark (optional)
//
//   node serve.mjs [--port 8080] [--models DIR] [--reference FILE]
// It answers only requests whose Host is 127.0.0.1, localhost or [::1] at its port (403 otherwise: a page
// of another site whose name was rebound to 127.0.0.1 cannot read the models), 400 to a malformed URL,
// and never serves through a symbolic link that leads out of its folders.
// Default models: ../exported if it holds a .tflite (portrait-export's --out), else the int8 model the
// Python package ships (../portrait_mobile/weights). Default reference: ../../shared/anchors.
import { createServer } from 'node:http';
import { createReadStream, existsSync, readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..');

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.tflite': 'application/octet-stream',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.svg': 'image/svg+xml',
};

const USAGE = 'usage: node serve.mjs [--port N] [--models DIR] [--reference FILE]';

function usageError(why) {
  console.error(`${USAGE}\n${why}`);
  process.exit(2);
}

function parseArgs(argv) {
  const args = { port: '8080', models: null, reference: null };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in args) || i + 1 >= argv.length) usageError(`bad: ${argv[i]}`);
    args[key] = argv[++i];
  }
  // Digits only: Number('') is 0 (a random port) and Number('abc') NaN, which listen() throws on.
  if (!/^\d{1,5}$/.test(args.port) || Number(args.port) > 65535) usageError(`--port must be an integer in 0..65535 (0: any free port), got ${JSON.stringify(args.port)}`);
  args.port = Number(args.port);
  return args;
}

const hasTflite = (dir) => existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.tflite'));

function defaultModels() {
  const exported = join(REPO, 'exported');
  return hasTflite(exported) ? exported : join(REPO, 'portrait_mobile', 'weights');
}

// The models folder's listing: each .tflite paired with its sidecar contract, or null when missing
// (the page then says so instead of guessing the input size), int8 first (what phones ship).
function precisionOf(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8')).precision ?? null;
  } catch {
    return null; // the page reports an unreadable contract when it loads it
  }
}

function listModels(dir) {
  // Only what /models/ would serve: a link that leads out of the folder is neither listed nor read.
  const servable = (f) => inside(dir, join(dir, f)) !== null;
  return readdirSync(dir)
    .filter((f) => f.endsWith('.tflite') && servable(f))
    .map((f) => {
      const contract = servable(`${f}.json`) ? `${f}.json` : null;
      return { model: f, contract, precision: contract && precisionOf(join(dir, contract)) };
    })
    .sort((a, b) => (b.precision === 'int8') - (a.precision === 'int8') || a.model.localeCompare(b.model));
}

// The real path of `path` when it is `root` or under it, else null (also when it does not exist). Real
// paths on both sides: path.resolve alone would follow a symbolic link in the folder to a file outside it.
function inside(root, path) {
  let real, realRoot;
  try {
    real = realpathSync(path);
    realRoot = realpathSync(root);
  } catch {
    return null;
  }
  return real === realRoot || real.startsWith(realRoot + sep) ? real : null;
}

// A file under `root` for a URL path (already checked to decode), or null (no escaping the root with ../).
function under(root, rel) {
  const path = resolve(root, '.' + sep + decodeURIComponent(rel));
  return path === root || path.startsWith(root + sep) ? inside(root, path) : null;
}

const args = parseArgs(process.argv.slice(2));
const modelsDir = resolve(args.models ?? defaultModels());
const referenceFile = resolve(args.reference ?? join(REPO, '..', 'shared', 'anchors', 'selfie_segmentation.tflite'));
if (!existsSync(modelsDir)) {
  console.error(`models folder not found: ${modelsDir} (run portrait-export --target tflite first)`);
  process.exit(1);
}
if (!statSync(modelsDir).isDirectory()) {
  console.error(`--models must be a folder, ${modelsDir} is not one`);
  process.exit(1);
}

const routes = [
  ['/node_modules/@litertjs/', join(HERE, 'node_modules', '@litertjs')],
  ['/models/', modelsDir],
  ['/', HERE],
];

function resolveUrl(pathname) {
  if (pathname === '/reference/selfie_segmentation.tflite') return existsSync(referenceFile) ? referenceFile : null;
  if (pathname === '/') return join(HERE, 'index.html');
  for (const [prefix, root] of routes) {
    if (pathname.startsWith(prefix)) {
      const rel = pathname.slice(prefix.length);
      // Only the page's own files from this folder: not serve.mjs, tests or node_modules at large.
      if (root === HERE && !/^((index|runner)\.html|style\.css|js\/[\w.-]+\.js)$/.test(rel)) return null;
      return under(root, rel);
    }
  }
  return null;
}

// The Host values this server answers to (DNS rebinding: a hostile site's name resolved to 127.0.0.1
// reaches this port with its own name as Host); port 80 may come without one.
function hostAllowed(host, port) {
  const names = ['127.0.0.1', 'localhost', '[::1]'];
  const allowed = names.map((n) => `${n}:${port}`).concat(port === 80 ? names : []);
  return allowed.includes(String(host ?? '').toLowerCase());
}

function answer(res, status, headers, text) {
  res.writeHead(status, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(`${text}\n`);
}

function handle(req, res) {
  const headers = {
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Embedder-Policy': 'require-corp',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Cache-Control': 'no-store',
  };
  if (!hostAllowed(req.headers.host, server.address().port)) {
    answer(res, 403, headers, `forbidden: this server answers to 127.0.0.1 and localhost only (Host: ${req.headers.host ?? 'none'})`);
    return;
  }
  let pathname;
  try {
    pathname = new URL(req.url, 'http://127.0.0.1').pathname;
    decodeURIComponent(pathname); // a malformed %-escape would throw later, in under()
  } catch {
    answer(res, 400, headers, 'bad request: malformed URL');
    return;
  }
  if (pathname === '/models/index.json') {
    const body = JSON.stringify({ models: listModels(modelsDir), reference: existsSync(referenceFile) });
    res.writeHead(200, { ...headers, 'Content-Type': MIME['.json'] });
    res.end(body);
    return;
  }
  const file = resolveUrl(pathname);
  if (!file || !existsSync(file) || !statSync(file).isFile()) {
    answer(res, 404, headers, `not found: ${pathname}`);
    return;
  }
  // The file may vanish or fail to read after the checks above: answer or cut this response, never
  // leave the stream's 'error' unhandled (that ends the server).
  const stream = createReadStream(file);
  stream.on('error', (e) => {
    if (!res.headersSent) answer(res, e.code === 'ENOENT' ? 404 : 500, headers, `cannot read ${pathname}: ${e.code ?? e.message}`);
    else res.destroy();
  });
  stream.once('open', () => {
    res.writeHead(200, { ...headers, 'Content-Type': MIME[extname(file)] ?? 'application/octet-stream' });
    stream.pipe(res);
  });
  res.on('close', () => stream.destroy());
}

const server = createServer((req, res) => {
  // One bad request (a models folder removed while serving, say) fails alone, not the whole server.
  try {
    handle(req, res);
  } catch (e) {
    console.error(`${req.url}: ${e.message}`);
    if (!res.headersSent) answer(res, 500, {}, `server error: ${e.message}`);
    else res.destroy();
  }
});

server.on('error', (e) => {
  console.error(`cannot listen on 127.0.0.1:${args.port}: ${e.code === 'EADDRINUSE' ? 'the port is in use (--port N for another, 0 for any free one)' : e.message}`);
  process.exit(1);
});

server.listen(args.port, '127.0.0.1', () => {
  // The tests read this line for the port (with --port 0 the OS picks a free one).
  console.log(`serving http://127.0.0.1:${server.address().port}/ (models: ${modelsDir})`);
});

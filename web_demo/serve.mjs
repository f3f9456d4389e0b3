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
// Default models: ../exported if it holds a .tflite (portrait-export's --out), else the int8 model the
// Python package ships (../portrait_mobile/weights). Default reference: ../../shared/anchors.
import { createServer } from 'node:http';
import { createReadStream, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
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

function parseArgs(argv) {
  const args = { port: 8080, models: null, reference: null };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in args) || i + 1 >= argv.length) {
      console.error(`usage: node serve.mjs [--port N] [--models DIR] [--reference FILE]  (bad: ${argv[i]})`);
      process.exit(2);
    }
    args[key] = argv[++i];
  }
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
  return readdirSync(dir)
    .filter((f) => f.endsWith('.tflite'))
    .map((f) => {
      const contract = existsSync(join(dir, `${f}.json`)) ? `${f}.json` : null;
      return { model: f, contract, precision: contract && precisionOf(join(dir, contract)) };
    })
    .sort((a, b) => (b.precision === 'int8') - (a.precision === 'int8') || a.model.localeCompare(b.model));
}

// A file under `root` for a URL path, or null (no escaping the root with ../).
function under(root, rel) {
  const path = resolve(root, '.' + sep + decodeURIComponent(rel));
  return path === root || path.startsWith(root + sep) ? path : null;
}

const args = parseArgs(process.argv.slice(2));
const modelsDir = resolve(args.models ?? defaultModels());
const referenceFile = resolve(args.reference ?? join(REPO, '..', 'shared', 'anchors', 'selfie_segmentation.tflite'));
if (!existsSync(modelsDir)) {
  console.error(`models folder not found: ${modelsDir} (run portrait-export --target tflite first)`);
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

const server = createServer((req, res) => {
  const headers = {
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Embedder-Policy': 'require-corp',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Cache-Control': 'no-store',
  };
  const { pathname } = new URL(req.url, 'http://127.0.0.1');
  if (pathname === '/models/index.json') {
    res.writeHead(200, { ...headers, 'Content-Type': MIME['.json'] });
    res.end(JSON.stringify({ models: listModels(modelsDir), reference: existsSync(referenceFile) }));
    return;
  }
  const file = resolveUrl(pathname);
  if (!file || !existsSync(file) || !statSync(file).isFile()) {
    res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' });
    res.end(`not found: ${pathname}\n`);
    return;
  }
  res.writeHead(200, { ...headers, 'Content-Type': MIME[extname(file)] ?? 'application/octet-stream' });
  createReadStream(file).pipe(res);
});

server.listen(args.port, '127.0.0.1', () => {
  // The tests read this line for the port (with --port 0 the OS picks a free one).
  console.log(`serving http://127.0.0.1:${server.address().port}/ (models: ${modelsDir})`);
});

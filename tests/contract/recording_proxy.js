#!/usr/bin/env node
// recording_proxy: Stoplight Prism as a validating proxy, plus a record of what it found.
//
//   node recording_proxy.js --spec SPEC.yaml --upstream URL --port N --record FILE
//
// Starts the pinned Prism (node_modules/@stoplight/prism-cli, `prism proxy --errors=false`) on a
// free loopback port between itself and URL, then listens on 127.0.0.1:N. Every request is passed
// to Prism unchanged; Prism forwards it to URL and validates both the request and the response
// against SPEC. Prism reports what it found in its log, pretty text without a request id (also with
// `-m`), so the lines of the broker's concurrent requests cannot be told apart, and in an
// `sl-violations` header on each answer. So this proxy reads that header, appends one JSON line per
// exchange to FILE and strips the header (and Prism's CORS headers) from the answer:
//   {"method":"GET","path":"/v3/apps/G","query":"a=1","status":200,"violations":[...],"prism_error":null}
// `prism_error` is Prism's own problem+json answer (a request it could not forward), null otherwise.
// Prints "recording_proxy ready <port>" on stdout once both listen; SIGTERM/SIGINT stop both.
'use strict';

const childProcess = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');

function parseArgs(argv) {
  const args = {};
  for (let i = 2; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (i + 1 >= argv.length) throw new Error(`missing value for ${argv[i]}`);
    args[key] = argv[i + 1];
  }
  for (const required of ['spec', 'upstream', 'port', 'record']) {
    if (!args[required]) throw new Error(`--${required} is required`);
  }
  return args;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function startPrism(spec, upstream, port) {
  const cli = path.join(__dirname, 'node_modules', '@stoplight', 'prism-cli', 'dist', 'index.js');
  const child = childProcess.spawn(
      process.execPath,
      [cli, 'proxy', spec, upstream, '--port', String(port), '--host', '127.0.0.1', '--errors=false', '--cors=false'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk) => {
      output += chunk.toString();
      if (output.includes('Prism is listening')) resolve(child);
      // Keep only the tail: Prism logs every request.
      if (output.length > 65536) output = output.slice(-16384);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code, signal) => reject(new Error(`prism exited (${code ?? signal}) before listening:\n${output}`)));
  });
}

async function main() {
  const args = parseArgs(process.argv);
  const prismPort = await freePort();
  const prism = await startPrism(args.spec, args.upstream, prismPort);
  prism.removeAllListeners('exit');
  prism.once('exit', (code, signal) => {
    process.stderr.write(`recording_proxy: prism exited (${code ?? signal})\n`);
    process.exit(1);
  });
  const record = fs.openSync(args.record, 'a');
  const agent = new http.Agent({ keepAlive: true });

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const upstream = http.request(
          { host: '127.0.0.1', port: prismPort, method: req.method, path: req.url, headers: req.headers, agent },
          (pres) => {
            const answer = [];
            pres.on('data', (c) => answer.push(c));
            pres.on('end', () => {
              const payload = Buffer.concat(answer);
              let violations = [];
              const header = pres.headers['sl-violations'];
              if (header) {
                try {
                  violations = JSON.parse(header);
                } catch (e) {
                  violations = [{ location: ['prism'], severity: 'Error', code: 'unparsable', message: header }];
                }
              }
              const problem = String(pres.headers['content-type'] || '').startsWith('application/problem+json');
              const url = new URL(req.url, 'http://x');
              const entry = {
                method: req.method,
                path: url.pathname,
                query: url.search.replace(/^\?/, ''),
                status: pres.statusCode,
                violations,
                prism_error: problem ? payload.toString() : null,
              };
              fs.writeSync(record, JSON.stringify(entry) + '\n');
              const headers = { ...pres.headers };
              for (const h of Object.keys(headers)) {
                if (h === 'sl-violations' || h.startsWith('access-control-')) delete headers[h];
              }
              res.writeHead(pres.statusCode, headers);
              res.end(payload);
            });
          });
      upstream.on('error', (e) => {
        fs.writeSync(record, JSON.stringify({ method: req.method, path: req.url, status: 0, violations: [],
                                              prism_error: `prism unreachable: ${e.message}` }) + '\n');
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`recording_proxy: ${e.message}\n`);
      });
      upstream.end(body);
    });
  });
  server.keepAliveTimeout = 60000;
  server.listen(Number(args.port), '127.0.0.1', () => {
    process.stdout.write(`recording_proxy ready ${server.address().port}\n`);
  });
  const stop = () => {
    prism.removeAllListeners('exit');
    prism.kill('SIGTERM');
    server.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e) => {
  process.stderr.write(`recording_proxy: ${e.stack || e}\n`);
  process.exit(1);
});

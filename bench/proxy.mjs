// The WebDAV GET ceiling (issue 17): the least a Node.js proxy can do, one process between curl and the
// emulator's CDN link. Every GET of this server is piped from one GET of the link (node:http in and out,
// streams piped with backpressure, no cache, no block copies). `serve webdav` proxies the same way plus its
// read path, so `serve webdav / this` is what the daemon costs over a proxy, and `this / direct curl` is
// what a Node proxy costs on this machine.
// Usage: node bench/proxy.mjs URL PORT   (prints "(ready)" once listening)
import { createServer, get } from 'node:http';
import { pipeline } from 'node:stream';

const [url, port] = process.argv.slice(2);
const server = createServer((req, res) => {
  const up = get(url, { headers: req.headers.range ? { range: req.headers.range } : {} }, (r) => {
    const h = {};
    for (const k of ['content-length', 'content-range']) if (r.headers[k]) h[k] = r.headers[k];
    res.writeHead(r.statusCode ?? 502, h);
    pipeline(r, res, () => undefined);
  });
  up.on('error', () => res.destroy());
  res.on('close', () => up.destroy());
});
server.listen(Number(port), '127.0.0.1', () => console.log('(ready)'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));

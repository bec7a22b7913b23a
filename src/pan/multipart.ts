// multipart/form-data bodies for the upload host (slice, single/create; 123open-api.md §4.2, §4.3).
// Owns: the framing. Invariant: the payload Buffer is never copied: the body is the list
// [preamble, payload, epilogue] streamed as is, with an exact Content-Length, so a slice upload holds
// at most one slice in memory. A fresh stream is built per attempt (a stream can be read only once).

import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

export interface MultipartBody {
  contentType: string;
  length: number;
  stream(): Readable;
}

function quote(s: string): string {
  return s.replace(/[\r\n"\\]/g, (c) => encodeURIComponent(c));
}

export function buildMultipart(
  fields: Record<string, string>,
  file: { field: string; filename: string; data: Buffer },
): MultipartBody {
  const boundary = `----pan123fs${randomBytes(12).toString('hex')}`;
  let pre = '';
  for (const [k, v] of Object.entries(fields)) {
    pre += `--${boundary}\r\nContent-Disposition: form-data; name="${quote(k)}"\r\n\r\n${v}\r\n`;
  }
  pre +=
    `--${boundary}\r\nContent-Disposition: form-data; name="${quote(file.field)}"; ` +
    `filename="${quote(file.filename)}"\r\n`;
  pre += 'Content-Type: application/octet-stream\r\n\r\n';
  const head = Buffer.from(pre, 'utf8');
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8');
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    length: head.length + file.data.length + tail.length,
    stream: () => Readable.from([head, file.data, tail], { objectMode: false }),
  };
}

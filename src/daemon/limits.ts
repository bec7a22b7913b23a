// Bandwidth limits wired around the read source and the upload calls (--bwlimit-down / --bwlimit-up):
// every ranged GET takes its length from the down bucket before it starts, every slice (or single-shot
// upload) its size from the up bucket. Wrappers only: data/, pan/ and write/ know nothing of limits.

import type { TokenBucket } from '../core/token-bucket.js';
import type { RangeSource } from '../data/range-source.js';
import type { PanTree, PanUploads } from '../pan/api.js';

export function limitRangeSource(source: RangeSource, bucket: TokenBucket): RangeSource {
  if (!bucket.limited) return source;
  return {
    async read(ref, start, length, signal, into, onProgress) {
      await bucket.take(length, signal);
      return source.read(ref, start, length, signal, into, onProgress);
    },
    prepare: source.prepare ? (ref) => source.prepare!(ref) : undefined,
  };
}

type UploadApi = PanUploads & Pick<PanTree, 'move' | 'rename' | 'trash' | 'listAll'>;

export function limitUploads(api: UploadApi, bucket: TokenBucket): UploadApi {
  if (!bucket.limited) return api;
  return {
    uploadCreate: (req) => api.uploadCreate(req),
    async uploadSlice(req) {
      await bucket.take(req.data.length, req.signal);
      return api.uploadSlice(req);
    },
    uploadComplete: (id) => api.uploadComplete(id),
    uploadDomains: () => api.uploadDomains(),
    async uploadSingle(req) {
      await bucket.take(req.data.length);
      return api.uploadSingle(req);
    },
    move: (...a) => api.move(...a),
    rename: (...a) => api.rename(...a),
    trash: (...a) => api.trash(...a),
    listAll: (...a) => api.listAll(...a),
  };
}

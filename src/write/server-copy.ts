// PanServerCopier: a server-side copy of one remote file under a new name (vfs/ports.ts RemoteCopyPort), for
// copy_file_range and WebDAV COPY. Two ways, in this order:
//  1. instant upload: `create` in the target folder under the new name with the source's MD5 and size
//     (duplicate 2, as every upload of ours) answers reuse:true with the new id: one call, named directly,
//     and it replaces a file of that name as an upload would. OpenList copies this way.
//  2. file/copy (123open-api.md §11): the copy lands under the source's name, so it is renamed after; what
//     the server does when the folder already holds that name is unknown (refuse, or "a(1)"), so it is
//     used only when nothing is to be replaced, and the copy is renamed to the target name whatever it is
//     called. A copy that cannot be renamed is trashed.
// Invariant: on a throw, no remote file made here is left behind (a create that answered reuse:false only
// opened an upload session, which the server drops unused).

import type { Logger } from '../core/logger.js';
import type { PanTree, PanUploads } from '../pan/api.js';

export interface CopySourceRef {
  id: string;
  name: string;
  md5: string;
  size: number;
}

export class PanServerCopier {
  constructor(
    private readonly api: Pick<PanUploads, 'uploadCreate'> & Pick<PanTree, 'copy' | 'rename' | 'trash'>,
    private readonly logger: Logger,
  ) {}

  async copy(
    src: CopySourceRef,
    to: { parentId: string; name: string },
    replace: boolean,
  ): Promise<{ fileId: string; via: 'instant' | 'copy' }> {
    const created = await this.api.uploadCreate({
      parentId: to.parentId,
      filename: to.name,
      md5: src.md5,
      size: src.size,
      duplicate: 2,
    });
    if (created.reuse && created.fileId && created.fileId !== '0') return { fileId: created.fileId, via: 'instant' };
    if (replace) throw new Error('create did not answer reuse, and file/copy cannot replace a file');
    this.logger.info(
      { op: 'copy', name: to.name, size: src.size },
      'the server did not reuse the content for an instant copy; using file/copy',
    );
    const fileId = await this.api.copy(src.id, to.parentId);
    try {
      await this.api.rename(fileId, to.name);
    } catch (e) {
      await this.api
        .trash([fileId])
        .catch((te) =>
          this.logger.warn({ op: 'copy', fileId, err: String(te) }, 'could not trash a copy that was not renamed'),
        );
      throw e;
    }
    return { fileId, via: 'copy' };
  }

  trash(fileId: string): Promise<void> {
    return this.api.trash([fileId]);
  }
}

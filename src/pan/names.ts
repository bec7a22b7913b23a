// Name checks at the pan/ boundary: core/names.ts decides, this turns a refusal into the PanError kind
// 'invalid-name' (carrying the reason) before any request is sent.

import { nameProblem } from '../core/names.js';
import { PanError } from './errors.js';

export function checkName(name: string, endpoint: string): void {
  const p = nameProblem(name);
  if (p)
    throw new PanError({
      kind: 'invalid-name',
      endpoint,
      message: `invalid name ${JSON.stringify(name)}: ${p.reason}`,
    });
}

// The program's version, for `--version` and `status`: the same reader as the API client's User-Agent
// (pan/version.ts), so they never disagree.
export { programVersion } from '../pan/version.js';

// Body code (+ message) → PanError kind. Owns: the only place in pan/ that reads server message text
// (123 puts several different failures under code 1; 123open-api.md §1 "Known codes"). Everything
// downstream compares kinds and codes.

import { PanError, type PanErrorKind } from './errors.js';

export const CODE_OK = 0;
export const CODE_GENERIC = 1;
export const CODE_TOKEN = 401;
export const CODE_RATE = 429;
export const CODE_NOT_FOUND = 5066;
export const CODE_TRAFFIC = 5113;
export const CODE_VERIFYING = 20103;

// 该目录下已经有同名文件夹 (mkdir) / 该目录下文件名重复无法创建 (create) / 当前目录有重名文件 (rename)
const CLASH_RE = /同名|重名|名重复|已存在|already exists/i;
// 文件名要小于256个字符且不能包含以下任何字符…
const BAD_NAME_RE = /文件名要小于|不能包含|非法字符|文件名.*(不合法|格式)|invalid (file)?name/i;
// 请慢一点 / 请求太频繁: possibly an account-level throttle under code 1 (§1, §10.16)
const SLOW_DOWN_RE = /请慢一点|太频繁|too many requests/i;
// 文件已在当前文件夹中，请选择其他文件夹: a move whose items are already in the target
const ALREADY_THERE_RE = /已在当前文件夹/;
// 文件上传失败: the final upload_complete failure
const UPLOAD_FAILED_RE = /上传失败/;
// 开发者权益已过期 / 开发者权益包已到期: the paid developer rights ended (§11; the wording is our guess, the
// docs do not say how the service answers after developerInfo.endTime)
const DEVELOPER_EXPIRED_RE = /(开发者)?权益(包)?.{0,4}(已)?(过期|到期|失效)|developer (rights|benefits?) .*expired/i;
// 空间不足 / 容量不足: account storage full
const SPACE_RE = /空间不足|容量不足|空间已满|存储空间/;
// 文件正在校验中,请间隔1秒后再试 (20103) / 处理中 / 合并中 / 请稍后: upload_complete's "still merging"
// answers, under 20103 or another code (123open-api.md §11; what AList and OpenList poll through)
const MERGING_RE = /校验中|正在校验|处理中|合并中|请间隔|请稍后|稍后再试/;

export function kindForBody(code: number, message: string): { kind: PanErrorKind; retryable: boolean } {
  if (code === CODE_TOKEN) return { kind: 'auth', retryable: false };
  if (code === CODE_RATE) return { kind: 'rate-limited', retryable: true };
  if (code === CODE_NOT_FOUND) return { kind: 'not-found', retryable: false };
  if (code === CODE_TRAFFIC) return { kind: 'quota', retryable: false };
  if (SLOW_DOWN_RE.test(message)) return { kind: 'rate-limited', retryable: true };
  if (DEVELOPER_EXPIRED_RE.test(message)) return { kind: 'developer-expired', retryable: false };
  if (CLASH_RE.test(message)) return { kind: 'name-clash', retryable: false };
  if (BAD_NAME_RE.test(message)) return { kind: 'invalid-name', retryable: false };
  if (UPLOAD_FAILED_RE.test(message)) return { kind: 'upload-failed', retryable: false };
  if (SPACE_RE.test(message)) return { kind: 'space', retryable: false };
  if (/不存在/.test(message)) return { kind: 'not-found', retryable: false };
  return { kind: 'api', retryable: false };
}

export function bodyError(code: number, message: string, traceId: string, endpoint: string): PanError {
  const { kind, retryable } = kindForBody(code, message);
  return new PanError({
    kind,
    code,
    message: `${endpoint}: ${message || `code ${code}`} (code ${code})`,
    traceId,
    endpoint,
    retryable,
  });
}

/**
 * An upload_complete error answer that says "still merging, ask again": code 20103 or a merging message.
 * A final 文件上传失败 never is (it is checked first).
 */
export function isStillMerging(code: number | undefined, message: string): boolean {
  if (UPLOAD_FAILED_RE.test(message)) return false;
  return code === CODE_VERIFYING || MERGING_RE.test(message);
}

/** A move answer meaning "the items already are in the target folder" (the desired end state). */
export function isAlreadyInFolder(e: PanError): boolean {
  return e.code === CODE_GENERIC && ALREADY_THERE_RE.test(e.message);
}

// 您今日自用下载流量已超出1GB上限… (5113): the quota figure, when the message names one
const QUOTA_FIGURE_RE = /(\d+(?:\.\d+)?)\s*([KMGT])i?B/i;
const UNIT_POWER: Record<string, number> = { K: 1, M: 2, G: 3, T: 4 };

/** The daily quota a 5113 message names, in bytes (123's units read as binary: 1GB = 2^30), or null. */
export function quotaBytesFromMessage(message: string): number | null {
  const m = QUOTA_FIGURE_RE.exec(message);
  if (!m) return null;
  return Math.round(Number(m[1]) * 1024 ** UNIT_POWER[m[2]!.toUpperCase()]!);
}

// The emulator's business errors: ApiError carries a body `code` and the exact server message. Handlers
// throw it; http.ts turns it into the envelope (HTTP 200). Messages quoted from 123open-api.md §1 are
// verbatim; the ones marked "choice" are ours (see docs/EMULATOR.md).

export class ApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const MSG = {
  nameInvalid: '文件名要小于256个字符且不能包含以下任何字符："\\/:*?|><',
  mkdirClash: '该目录下已经有同名文件夹,无法进行创建',
  renameClash: '当前目录有重名文件',
  createClash: '该目录下文件名重复无法创建',
  moveSame: '文件已在当前文件夹中，请选择其他文件夹',
  moveIntoSelf: '不能将文件夹移动到自身或其子文件夹中', // choice
  verifying: '文件正在校验中,请间隔1秒后再试',
  uploadFailed: '文件上传失败',
  processing: '文件处理中,请稍后再试', // choice: a merging message under code 1 (completeMode 'message')
  serverError: '服务器内部错误', // choice: an odd complete answer (completeMode 'error-lands')
  emptySlice: '分片大小错误: 文件大小为0', // choice (zeroByteRefuse 'slice')
  emptyFile: '文件大小不能为0', // choice (zeroByteRefuse 'single')
  notFound: '文件不存在',
  // as the docs quote it ("您今日自用下载流量已超出1GB上限…"); the figure is downloadQuotaBytes in 123's units
  quota: (figure: string) => `您今日自用下载流量已超出${figure}上限，请明日再试`,
  tooFrequent: '请求太频繁',
  developerExpired: '开发者权益已过期，请续费开发者权益包后再使用', // choice: the docs do not say (EMULATOR.md)
  tokenExpired: 'token is expired',
  tokenMissing: 'access_token is required', // choice
  badCredentials: 'clientID或clientSecret错误', // choice
  platformMissing: 'Platform header must be open_platform', // choice
  param: (name: string) => `参数错误: ${name}`, // choice
} as const;

export const CODE = {
  ok: 0,
  generic: 1,
  unauthorized: 401,
  tooFrequent: 429,
  notFound: 5066,
  quota: 5113,
  verifying: 20103,
} as const;

export function paramError(name: string): ApiError {
  return new ApiError(CODE.generic, MSG.param(name));
}

export function notFound(): ApiError {
  return new ApiError(CODE.notFound, MSG.notFound);
}

/** Default message for a code injected by a fault rule. */
export function defaultMessage(code: number): string {
  switch (code) {
    case 401:
      return MSG.tokenExpired;
    case 429:
      return MSG.tooFrequent;
    case 5066:
      return MSG.notFound;
    case 5113:
      return MSG.quota('1GB');
    case 20103:
      return MSG.verifying;
    default:
      return 'injected fault';
  }
}

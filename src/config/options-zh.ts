// Chinese help text for every option of the option table (src/config/options.ts), keyed by option key,
// for the option list of README.zh-CN.md. Same meaning as the English `help`; not imported yet (the README
// generator will use it). Invariant: exactly one entry per key of OPTIONS.

export const HELP_ZH: Record<string, string> = {
  config: 'JSON 配置文件，键可以是这里的任意选项',
  apiBase: '123 开放平台接口的地址（指向 `pan123fs emulator` 就可以先试用）',
  clientId: '123 开放平台的 Client ID',
  clientSecret: '123 开放平台的 Client Secret（建议改用 --client-secret-file：命令行参数在 `ps` 里看得见）',
  clientSecretFile: '存放 Client Secret 的文件（不能让其他用户读到）',
  mountpoint: '`mount` 没有给出 MOUNTPOINT 参数时的挂载位置（systemd 单元和 fstab 辅助程序从配置文件里取它）',
  rootFolderId: '作为挂载根目录的文件夹 id（0 = 整个网盘）。直链需要一个开启了直链空间的文件夹，不能是 0',
  readOnly: '只读挂载（写操作返回 EROFS）',
  allowOther: '允许其他用户访问挂载（非 root 用户需要在 /etc/fuse.conf 里加上 user_allow_other）',
  uid: '所有文件的属主 uid（默认：守护进程的 uid）',
  gid: '所有文件的属组 gid（默认：守护进程的 gid）',
  umask: '权限掩码：文件为 0666&~umask，目录为 0777&~umask',
  dirCacheTime: '目录列表在本地缓存里保存多久，过期后重新从云端获取',
  pollInterval:
    '多久重新获取一次正在使用的文件夹（挂载根目录、最近 10 分钟内列出过或打开过其中文件的文件夹、有待上传文件的文件夹）' +
    '的列表，以发现云端的变化；最多占用列表接口 QPS 的五分之一（0 = 关闭）',
  attrTimeout: '内核缓存文件属性和文件名的时间（可以为 0）；pan123fs refresh 会立即清掉这些缓存',
  cacheDir:
    '元数据库、分块缓存和上传暂存文件的目录' +
    '（默认：$XDG_CACHE_HOME/pan123fs/<account>，root 为 /var/cache/pan123fs）',
  stateDir: 'token 文件和控制 socket 的目录（默认：$XDG_STATE_HOME/pan123fs，root 为 /var/lib/pan123fs）',
  cacheMaxSize: '磁盘分块缓存的上限（按 LRU 淘汰；0 表示不用磁盘缓存）',
  cacheStreams: '长时间的顺序读取也存进磁盘缓存（默认只保存每个文件的前 32 MiB 和按需读取的块）',
  memCacheSize: '内存块缓存的上限',
  readAheadMax: '顺序读取时预读窗口的最大值',
  directLink: '通过 123云盘直链读取（--root-folder-id 必须是开启了直链空间的文件夹，不能是根目录 0）',
  directLinkKey: '给直链签名用的 URL 鉴权密钥',
  uploadConcurrency: '同时上传的文件数',
  sliceConcurrency: '同一个文件并行上传的分片数',
  drainTimeout: '收到 SIGTERM 后，卸载前最多等待待上传文件传完的时间',
  rateLimitScale: '客户端按接口限制 QPS 的倍数（0 = 客户端不限速）',
  logLevel: '日志级别：trace、debug、info、warn、error',
  // WebDAV (issue 17)
  webdav:
    '同时在 ADDR 上以 WebDAV 提供同一棵目录树（`PORT`、`HOST:PORT`、`[::1]:PORT`；只写端口即只监听本机）。' +
    '非本机地址必须设置 --webdav-user 和密码',
  webdavUser: 'WebDAV Basic 认证的用户名（--webdav 监听非本机地址时必填）',
  webdavPasswordFile: '存放 WebDAV 密码的文件（不能让其他用户可读）',
  webdavPassword: 'WebDAV 密码（用于测试；建议用 --webdav-password-file：命令行参数会出现在 `ps` 里）',
  webdavTlsCert: 'PEM 证书（链）文件：通过 HTTPS 提供 WebDAV（需同时指定 --webdav-tls-key）',
  webdavTlsKey: '--webdav-tls-cert 对应的 PEM 私钥文件（不能让其他用户可读）',
  webdavReadOnly:
    'WebDAV 客户端只能读取（PUT、DELETE、MKCOL、MOVE、COPY、PROPPATCH、LOCK 一律返回 403）；--read-only 时自动开启',
  webdavRedirect: '对已上传文件的 GET 直接 302 跳转到 123 下载链接，而不是由本程序转发数据（很多播放器不支持跳转）',
  // bandwidth (issue 16)
  bwlimitDown: '下载限速，单位字节/秒（8M = 8 MiB/s；0 = 不限）：作用于分段下载（Range GET）的令牌桶',
  bwlimitUp: '上传限速，单位字节/秒（0 = 不限）：作用于分片上传的令牌桶',
  stagingMaxSize:
    '暂存区上限，针对已写入但尚未上传的内容（0 = 不限）：写满时写入方等待上传腾出空间；单个文件本身超过上限时返回 ENOSPC',
};

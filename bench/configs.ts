// The config files the bench writes for the contenders that read one (fnshift, nginx, haproxy).

export interface FnshiftConfigOptions {
  readonly listenPort: number;
  readonly upstreamOrigin: string;
  readonly stateFile: string;
  /** Data-plane processes (`workers`). */
  readonly workers: number;
}

/** The route at weight 50 sends half the users to a "function" that is the same origin, so both paths cost alike. */
export function fnshiftConfigYaml(options: FnshiftConfigOptions): string {
  return `listen: 127.0.0.1:${options.listenPort}
workers: ${options.workers}
admin: { listen: 127.0.0.1:0 }
legacy: { url: ${options.upstreamOrigin} }
functions:
  recommend: { url: ${options.upstreamOrigin} }
routes:
  - name: recommend
    match: { pathPrefix: /api/recommend }
    function: recommend
    weight: 50
    sticky: { header: x-user-id }
# Kept in the bench's temp dir, not the repo; a short drain because the bench stops it with nothing in flight.
state: { file: ${JSON.stringify(options.stateFile)} }
drain: { timeoutMs: 1000 }
`;
}

export interface NativeProxyOptions {
  readonly listenPort: number;
  readonly upstreamPort: number;
  /** nginx worker_processes / haproxy nbthread. */
  readonly workers: number;
  readonly workDir: string;
  /**
   * nginx without a master: one process that serves, so it can be killed like any other child (a killed
   * master leaves its workers running) and its pid is the one doing the work. The load test's reference hop.
   */
  readonly isSingleProcess?: boolean;
}

export function nginxConfig(options: NativeProxyOptions): string {
  const dir = options.workDir;
  return `# Written by the bench (or the load test); nginx runs in the foreground with everything it writes in ${dir}.
daemon off;
${options.isSingleProcess ? 'master_process off;' : `master_process on;\nworker_processes ${options.workers};`}
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  # The bench's clients and the origin keep sockets for the whole run; nginx's default of 1000 requests
  # per connection would add reconnects no other contender makes.
  keepalive_requests 1000000;
  keepalive_timeout 65s;
  upstream origin {
    server 127.0.0.1:${options.upstreamPort};
    keepalive 64;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
  }
  server {
    listen 127.0.0.1:${options.listenPort};
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

export function haproxyConfig(options: NativeProxyOptions): string {
  return `# Written by bench/run.ts; haproxy runs in the foreground (-db).
global
  nbthread ${options.workers}
  # Within the default 20000-fd limit here: haproxy needs about two fds per connection.
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 65s
  timeout server 65s
  timeout http-keep-alive 65s
  # Idempotent GETs only, so any idle upstream socket may be reused (the others pool the same way).
  http-reuse always
frontend bench
  bind 127.0.0.1:${options.listenPort}
  default_backend origin
backend origin
  server origin 127.0.0.1:${options.upstreamPort}
`;
}

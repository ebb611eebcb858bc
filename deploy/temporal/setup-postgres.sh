#!/bin/sh
# Temporal's own databases (temporal, temporal_visibility) on temporal-db: created on the first
# run, brought up to this server version's schema on every run (that is how an upgrade of
# TEMPORAL_VERSION gets its schema changes). Safe to run again.
set -eu

# The password comes from SQL_PASSWORD in the environment, never from the command line.
tool() {
  temporal-sql-tool --plugin postgres12 --ep temporal-db -p 5432 -u "$SQL_USER" "$@"
}

until nc -z temporal-db 5432; do sleep 1; done

for db in temporal temporal_visibility; do
  dir=temporal
  [ "$db" = temporal_visibility ] && dir=visibility
  tool --db "$db" create 2>/dev/null || echo "database $db exists"
  tool --db "$db" setup-schema -v 0.0 2>/dev/null || echo "schema of $db exists"
  tool --db "$db" update-schema -d "/etc/temporal/schema/postgresql/v12/$dir/versioned"
done
echo "Temporal schema is current"

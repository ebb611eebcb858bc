#!/bin/sh
# The namespace and the search attributes the dunning workflows use (the dev server of
# `dunning dev` registers them itself; a real server needs them once). Safe to run again.
set -eu

: "${NAMESPACE:=default}"
: "${RETENTION:=30d}"
export TEMPORAL_ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"

until temporal operator cluster health >/dev/null 2>&1; do sleep 2; done

temporal operator namespace describe -n "$NAMESPACE" >/dev/null 2>&1 \
  || temporal operator namespace create -n "$NAMESPACE" --retention "$RETENTION"

for attribute in DunningStatus:Keyword DunningLadder:Keyword DunningNextContact:Datetime \
  DunningDaysPastDue:Int DunningContact:KeywordList DunningStep:Keyword; do
  name=${attribute%%:*}
  type=${attribute#*:}
  temporal operator search-attribute create -n "$NAMESPACE" --name "$name" --type "$type" \
    2>/dev/null || echo "search attribute $name exists"
done
echo "namespace $NAMESPACE is ready"

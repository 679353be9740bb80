#!/usr/bin/env bash
# bench/outage.sh: the real-outage runs of issue 7: kill -9 redis-server and stop
# PostgreSQL in immediate mode in the middle of a load run, restart both, and check
# that errors stay inside the outage windows, nothing acknowledged is lost, and the
# demos recover without a restart. The same script as the soak test, in its
# outage mode: see bench/soak.sh --help for the options.
exec "$(dirname "$0")/soak.sh" --outage "$@"

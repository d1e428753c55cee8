#!/usr/bin/env bash
# Hostile-input fuzzing of the live API from its own OpenAPI document (schemathesis).
#
# Builds the debug binary, starts it on a fresh SQLite database in a temp dir, creates an
# admin and an API token through the CLI, and lets schemathesis generate requests for
# every documented operation with that token. Fails on any 5xx or any response that
# does not match the documented schema. Bounded: a fixed number of examples per
# operation, a fixed seed (reproducible), and a hard time limit.
#
# Knobs: FUZZ_MAX_EXAMPLES (per operation, default 40), FUZZ_SEED, FUZZ_TIME_LIMIT
# (seconds for the whole schemathesis run, default 170), FUZZ_WORKERS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."

max_examples="${FUZZ_MAX_EXAMPLES:-40}"
seed="${FUZZ_SEED:-20261121}"
time_limit="${FUZZ_TIME_LIMIT:-170}"
workers="${FUZZ_WORKERS:-2}"
venv="target/fuzz-venv"
schemathesis_version="${SCHEMATHESIS_VERSION:-4.32.5}"

step() { printf '\n==> %s\n' "$*"; }

if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$schemathesis_version"; then
    step "installing schemathesis $schemathesis_version into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$schemathesis_version"
fi
"$venv/bin/schemathesis" --version

step "building target/debug/tariff"
cargo build --quiet -p tariff-app --bin tariff
tariff="$PWD/target/debug/tariff"

work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

export DATABASE_URL="sqlite://$work/fuzz.db"
export RUST_LOG="${RUST_LOG:-warn}"
"$tariff" migrate >/dev/null
"$tariff" users create --email fuzz-admin@example.com --name "Fuzz Admin" --admin >/dev/null
token="$("$tariff" tokens create --email fuzz-admin@example.com --name fuzz)"
# Something for the generated requests to find: a customer and a paid plan.
"$tariff" users create --email fuzz-user@example.com --name "Fuzz User" >/dev/null
cat >"$work/plans.json" <<'JSON'
[{"name": "Pro", "type": "paid", "price": "9.99", "currency": "USD", "serverLimit": 5, "sites": 10}]
JSON
"$tariff" plans import "$work/plans.json" >/dev/null || echo "note: plan import failed; fuzzing the starter catalogue only"

step "starting tariff on a fresh SQLite database"
TARIFF_SERVER__BIND=127.0.0.1:0 "$tariff" serve >"$work/stdout" 2>"$work/server.log" &
server_pid=$!
base=""
for _ in $(seq 1 300); do
    base="$(sed -n 's/^tariff listening on \(http:\/\/[^ ]*\).*/\1/p' "$work/stdout" | head -n 1)"
    [ -n "$base" ] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; echo "tariff exited during start-up"; exit 1; }
    sleep 0.1
done
[ -n "$base" ] || { cat "$work/server.log"; echo "tariff did not start"; exit 1; }
echo "tariff at $base"

step "schemathesis: $max_examples examples per operation, seed $seed, at most ${time_limit}s"
set +e
timeout --signal=INT --kill-after=15 "$time_limit" \
    "$venv/bin/schemathesis" run "$base/api/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,response_schema_conformance \
    --max-examples "$max_examples" \
    --seed "$seed" \
    --generation-deterministic \
    --generation-database none \
    --workers "$workers" \
    --request-timeout 10 \
    --no-color \
    --report junit --report-junit-path "$work/junit.xml" \
    2>&1 | tee "$work/schemathesis.out"
fuzz_status=${PIPESTATUS[0]}
set -e

# Cross-check from the service's side: every 5xx it answered is counted in /metrics.
server_errors="$(curl -fsS "$base/metrics" | awk '/^tariff_http_requests_total\{/ && /status="5/ { n += $NF } END { print n + 0 }')"
cases="$(grep -oE 'tests="[0-9]+"' "$work/junit.xml" 2>/dev/null | head -n 1 | grep -oE '[0-9]+' || echo "?")"
requests="$(curl -fsS "$base/metrics" | awk '/^tariff_http_requests_total\{/ { n += $NF } END { print n + 0 }')"

step "fuzz summary"
grep -E '^(Test cases|Test Phases|Seed|API Operations|Failures|[0-9]+ (passed|failed))' "$work/schemathesis.out" || true
echo "schemathesis exit status: $fuzz_status; operations tested (junit): $cases; HTTP requests served: $requests; 5xx answered: $server_errors"
if [ "$server_errors" != "0" ]; then
    echo "FAIL: the service answered $server_errors 5xx; its log:"
    grep -iE 'error|panick' "$work/server.log" | head -n 50 || true
    exit 1
fi
if [ "$fuzz_status" = 124 ]; then
    echo "FAIL: schemathesis did not finish within ${time_limit}s"
    exit 1
fi
if [ "$fuzz_status" != 0 ]; then
    echo "FAIL: schemathesis found failures (see above)"
    exit 1
fi
echo "fuzz: OK"

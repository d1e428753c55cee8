#!/usr/bin/env bash
# Hostile-input fuzzing of the live API from its own OpenAPI document (schemathesis).
#
# Builds the debug binary, starts it on a fresh SQLite database in a temp dir, creates an
# admin and an API token through the CLI, and lets schemathesis generate requests for
# every documented operation with that token. While the main pass runs, a flipper switches
# billing off and on again every few seconds (`PUT /api/admin/settings`), so operations
# behind the switch also answer 503 feature_disabled: every status they answer must be in
# the document (`status_code_conformance`). Fails on any 5xx other than a documented 503,
# any undocumented status, or any response that does not match the documented schema.
# Bounded: a fixed number of examples per operation, a fixed seed (reproducible), and a
# hard time limit.
#
# Knobs: FUZZ_MAX_EXAMPLES (per operation, default 100), FUZZ_SEED, FUZZ_TIME_LIMIT
# (seconds for the whole schemathesis run, default 170), FUZZ_WORKERS (default 1),
# FUZZ_FLIP_SECS (seconds between billing switch flips, default 3; 0 turns flipping off).
set -euo pipefail
cd "$(dirname "$0")/.."

max_examples="${FUZZ_MAX_EXAMPLES:-100}"
seed="${FUZZ_SEED:-20261121}"
time_limit="${FUZZ_TIME_LIMIT:-170}"
# One worker: hypothesis on CPython 3.11 can trip over its own AST parsing from threads.
workers="${FUZZ_WORKERS:-1}"
flip_secs="${FUZZ_FLIP_SECS:-3}"
venv="target/fuzz-venv"
schemathesis_version="${SCHEMATHESIS_VERSION:-4.32.5}"

step() { printf '\n==> %s\n' "$*"; }

if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$schemathesis_version"; then
    step "installing schemathesis $schemathesis_version into $venv"
    if ! python3 -m venv "$venv"; then
        # Debian's python3 keeps venv in a separate package.
        [ "$(id -u)" = 0 ] && { apt-get update -qq || true; apt-get install -y -qq python3-venv >/dev/null; }
        rm -rf "$venv"
        python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$schemathesis_version"
fi
"$venv/bin/schemathesis" --version

step "building target/debug/tariff"
cargo build --quiet -p tariff-app --bin tariff
tariff="$PWD/target/debug/tariff"

work="$(mktemp -d)"
server_pid=""
flipper_pid=""
cleanup() {
    if [ -n "$flipper_pid" ]; then kill "$flipper_pid" 2>/dev/null || true; wait "$flipper_pid" 2>/dev/null || true; fi
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
# An organisation owned by the admin, so organisation routes have something to find.
curl -fsS -X POST "$base/api/organisations" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d '{"name":"Fuzz Org"}' >/dev/null || echo "note: could not create an organisation"

# Operations that can take the fuzzer's own credentials away (revoking its token,
# demoting its admin) or switch billing off (503 feature_disabled by design) run in a
# second pass, after everything else has been fuzzed with a working admin token.
self_harm=(--include-name 'DELETE /api/tokens/{id}' --include-name 'PUT /api/admin/users/{id}' --include-name 'PUT /api/admin/settings')
self_harm_excluded=(--exclude-name 'DELETE /api/tokens/{id}' --exclude-name 'PUT /api/admin/users/{id}' --exclude-name 'PUT /api/admin/settings')

started=$SECONDS
run_pass() { # name, time limit, filters...
    local name="$1" limit="$2"
    shift 2
    step "schemathesis ($name): $max_examples examples per operation, seed $seed, at most ${limit}s"
    set +e
    timeout --signal=INT --kill-after=15 "$limit" \
        "$venv/bin/schemathesis" run "$base/api/openapi.json" \
        --header "Authorization: Bearer $token" \
        --checks "$checks" \
        --max-examples "$max_examples" \
        --seed "$seed" \
        --workers "$workers" \
        --request-timeout 10 \
        --warnings off \
        --no-color \
        "$@" \
        --report junit --report-junit-path "$work/junit-$name.xml" \
        2>&1 | tee "$work/schemathesis-$name.out"
    local status=${PIPESTATUS[0]}
    set -e
    return "$status"
}

set_billing() { # true|false
    curl -fsS -o /dev/null -X PUT "$base/api/admin/settings" -H "Authorization: Bearer $token" \
        -H 'Content-Type: application/json' -d "{\"billingEnabled\":$1}"
}
flips=0
# schemathesis's not_a_server_error fails every 5xx, the documented 503 feature_disabled
# included; while the switch flips, the service's own count of 5xx other than 503 (below)
# takes its place, and status_code_conformance checks that 503 is documented.
checks="not_a_server_error,response_schema_conformance,status_code_conformance"
if [ "$flip_secs" -gt 0 ]; then
    checks="response_schema_conformance,status_code_conformance"
    (
        while true; do
            sleep "$flip_secs"; set_billing false || true
            sleep "$flip_secs"; set_billing true || true
        done
    ) &
    flipper_pid=$!
fi

fuzz_status=0
run_pass main "$time_limit" "${self_harm_excluded[@]}" || fuzz_status=$?
if [ -n "$flipper_pid" ]; then
    kill "$flipper_pid" 2>/dev/null || true; wait "$flipper_pid" 2>/dev/null || true; flipper_pid=""
    flips="$(curl -fsS "$base/metrics" | awk '/^tariff_http_requests_total\{/ && /PUT/ && /settings/ { n += $NF } END { print n + 0 }')"
fi
set_billing true
me_status="$(curl -s -o /dev/null -w '%{http_code}' "$base/api/me" -H "Authorization: Bearer $token")"
if [ "$me_status" != 200 ]; then
    echo "FAIL: the fuzz token stopped working during the main pass (GET /api/me answered $me_status): the run was not authenticated throughout"
    fuzz_status=1
fi
remaining=$(( time_limit - (SECONDS - started) ))
[ "$remaining" -ge 20 ] || remaining=20
run_pass credentials "$remaining" "${self_harm[@]}" || { s=$?; [ "$fuzz_status" != 0 ] || fuzz_status=$s; }

# Cross-check from the service's side: every 5xx it answered is counted in /metrics
# (503 is documented for every operation: the switch was off, or the database busy).
server_errors="$(curl -fsS "$base/metrics" | awk '/^tariff_http_requests_total\{/ && /status="5/ && !/status="503"/ { n += $NF } END { print n + 0 }')"
cases="$(grep -hE '^ +[0-9]+ generated' "$work"/schemathesis-*.out | awk '{ n += $1 } END { print n + 0 }')"
requests="$(curl -fsS "$base/metrics" | awk '/^tariff_http_requests_total\{/ { n += $NF } END { print n + 0 }')"

step "fuzz summary"
echo "schemathesis exit status: $fuzz_status; test cases generated: $cases; HTTP requests served: $requests; 5xx other than 503 answered: $server_errors; billing switch writes during the main pass: $flips"
echo "responses by status:"
curl -fsS "$base/metrics" | awk '/^tariff_http_requests_total\{/ { split($0, p, "status=\""); split(p[2], a, "\""); n[a[1]] += $NF } END { for (s in n) print "  " s ": " n[s] }' | sort
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

# Tariff tasks. Install just with `pip install rust-just`.

pg_url := env_var_or_default("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")

# Run the service on the embedded SQLite default (tariff.db in this directory).
run:
    cargo run --release

# All tests on SQLite (PostgreSQL parts skip loudly without TEST_DATABASE_URL).
test:
    cargo test --workspace

# All tests on SQLite and PostgreSQL.
test-pg:
    TEST_DATABASE_URL={{pg_url}} cargo test --workspace

# Lints exactly as CI runs them.
lint:
    cargo fmt --all -- --check
    bash .ci/check-layers
    cargo clippy --workspace --all-targets -- -D warnings

fmt:
    cargo fmt --all

# What CI runs.
ci:
    bash .ci/run

# Load benchmark: release build, realistic data, wrk against every hot endpoint, the write
# paths (coupon orders, upgrades, Stripe webhooks, refunds), the outbox and (PostgreSQL)
# two instances on one database, and the ceiling; prints one table and the targets, and
# writes target/bench/results.json. `BENCH_ONLY=refund just bench` runs matching rows only.
bench:
    command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
    cargo build --release -p tariff-app -p tariff-tests --bins
    target/release/bench
    cargo bench --workspace

# The lifecycle sweep, the cold paths, then the same load table as `bench`, on the large
# data set (1,000,000 orders, generated once into target/bench/large and the database
# tariff_bench_large, then reused); writes target/bench/large-results.json.
bench-large:
    command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
    cargo build --release -p tariff-app -p tariff-tests --bins
    target/release/bench --scale large

# Hostile-input fuzzing of the live API from its OpenAPI document (schemathesis).
fuzz:
    bash scripts/fuzz.sh

# Sourced by scripts/test.sh: starts moto's S3-compatible server (from PyPI, installed by
# setup.sh --test into tools/python/venv) on a free loopback port for the delivery tests, and
# exports AUDITRAIL_TEST_S3_ENDPOINT. s3_cleanup stops it.
s3_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export AUDITRAIL_TEST_S3_ENDPOINT="http://127.0.0.1:$s3_port"
step "moto_server (S3) on port $s3_port"
tools/python/venv/bin/moto_server -H 127.0.0.1 -p "$s3_port" > /tmp/auditrail-moto-$s3_port.log 2>&1 &
s3_pid=$!
for _ in $(seq 1 100); do
    curl -sf -o /dev/null "$AUDITRAIL_TEST_S3_ENDPOINT/" && break
    sleep 0.1
done
curl -sf -o /dev/null "$AUDITRAIL_TEST_S3_ENDPOINT/" || { echo "moto_server did not start" >&2; exit 1; }

s3_cleanup() {
    kill "$s3_pid" 2>/dev/null || true
}

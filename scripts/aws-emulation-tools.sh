# Sourced by scripts/test and scripts/dev --aws: installs, at pinned versions, what the
# emulated AWS stack needs from PyPI — moto's server (DynamoDB, S3, Secrets Manager; with boto3)
# and cargo-lambda's Lambda Runtime API emulator — and puts cargo-lambda on PATH.

# Pinned: scripts/moto-server patches moto's transaction backup, checked against this version.
MOTO_VERSION=5.2.1
if ! python3 -c "import moto.server, flask, flask_cors, moto; assert moto.__version__ == '$MOTO_VERSION'" 2>/dev/null; then
  python3 -m pip install --quiet "moto[server]==$MOTO_VERSION"
fi
# Same pins as scripts/build-lambdas.
CARGO_LAMBDA_VERSION=1.9.2
ZIGLANG_VERSION=0.17.1
if ! python3 -c "import importlib.metadata as m; assert m.version('cargo-lambda') == '$CARGO_LAMBDA_VERSION'" 2>/dev/null; then
  python3 -m pip install --quiet "cargo-lambda==$CARGO_LAMBDA_VERSION" "ziglang==$ZIGLANG_VERSION"
fi
# pip may put the executable in a scripts directory that is not on PATH (e.g. --user installs).
for dir in "$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')" \
           "$(python3 -m site --user-base 2>/dev/null)/bin"; do
  if [ -x "$dir/cargo-lambda" ]; then PATH="$dir:$PATH"; fi
done
command -v cargo-lambda >/dev/null || { echo "cargo-lambda installed but not on PATH" >&2; exit 1; }

#!/usr/bin/env bash
# GPU benchmark: on a machine with an NVIDIA GPU and torch installed, install zoo without the
# network, train the default recipe for 2 epochs and the best recipe for 1, and print seconds
# per epoch, tokens per second and peak GPU memory. Fits in 8 minutes on one modern GPU.
#
#   ZOO_IMDB_SOURCE=/path/to/aclImdb_v1.tar.gz bash benchmarks/gpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${ZOO_IMDB_SOURCE:-}" ]; then
  for candidate in shared/data/aclImdb_v1.tar.gz ../shared/data/aclImdb_v1.tar.gz; do
    [ -f "$candidate" ] && export ZOO_IMDB_SOURCE="$PWD/$candidate" && break
  done
fi
[ -n "${ZOO_IMDB_SOURCE:-}" ] || { echo "set ZOO_IMDB_SOURCE to aclImdb_v1.tar.gz" >&2; exit 2; }
export ZOO_CACHE_DIR="${ZOO_CACHE_DIR:-$PWD/.cache/zoo}"
out="${OUT:-$PWD/.cache/gpu-runs}"

python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print('GPU:', torch.cuda.get_device_name(0), '| torch', torch.__version__)"
python -m pip install -q --no-deps --no-index --no-build-isolation -e . >/dev/null

run() {  # name, recipe, epochs, extra overrides...
  local name=$1 recipe=$2 epochs=$3; shift 3
  timeout 240 python -m zoo train "$recipe" --out "$out/$name" --force --json \
    --set train.device=cuda --set train.epochs="$epochs" "$@" > "$out/$name.json"
  python - "$out/$name.json" "$name" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"{sys.argv[2]:<22} {s['train_seconds_per_epoch']:8.2f} s/epoch  {s['train_tokens_per_second']:12,.0f} tokens/s  "
      f"{s.get('max_memory_mb', 0):8.0f} MB peak  test acc {s['test']['accuracy']:.4f} ({s['epochs_run']} epochs)")
PY
}
mkdir -p "$out"
run imdb-lstm imdb-lstm 2
run imdb-lstm-bf16 imdb-lstm 2 --set train.precision=bf16
run imdb-best imdb-best 1

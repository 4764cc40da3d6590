#!/usr/bin/env bash
# Prepares the GPU kit for issue 7's numbers (ResNet-50, Fashion-MNIST and GEMM on WebGPU against
# PyTorch on the same H100) and prints the one device command that produces all of them.
# Run it on the development machine, from anywhere in the checkout:
#
#   bash bench/gpu/run-h100.sh
#
# It writes, all under .dev/ (git-ignored):
#   .dev/nodewg/                 Node + the `webgpu` package + Vulkan/GLVND libraries for the GPU host
#                                (../shared/gpu/pack-node-webgpu.sh, run only when missing; ~29 MB)
#   .dev/bench/*.mjs             bench/webgpu-{gemm,models,fmnist,conv-layers}.ts bundled with esbuild
#                                (--platform=node --format=esm --external:webgpu)
#   .dev/bench/wasm/*.wasm       the cpu backend's kernel builds (build/*.wasm), which the bundles
#                                load from beside themselves (bench/gpu/bundled-wasm.ts)
#   .dev/data/fashion-mnist/     the four Fashion-MNIST IDX files, xz-compressed (~26 MB instead of
#                                31 MB gzipped: the device call carries at most 64 MiB in all)
# then checks what the device call would carry against its 64 MiB limit and prints the command.
# On the GPU host, bench/gpu/on-host.sh runs the benches (see its header).
#
# Knobs: SHARED_GPU (folder of pack-node-webgpu.sh; default ../shared/gpu), FMNIST_DIR (where the
# IDX files are; default: from `dpkg -L dataset-fashion-mnist`, installed with apt-get if missing).
set -euo pipefail
cd "$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)"
SHARED_GPU=${SHARED_GPU:-../shared/gpu}
LIMIT=$((64 * 1024 * 1024))

git check-ignore -q .dev/ || { echo "run-h100: .dev/ is not git-ignored; add '.dev/' to .gitignore first" >&2; exit 1; }

# 1. Node + WebGPU for the host.
if [ ! -s .dev/nodewg/node.xz ] || [ ! -f .dev/nodewg/gpu-host-setup.sh ]; then
  bash "$SHARED_GPU/pack-node-webgpu.sh" .dev/nodewg
fi

# 2. The bundles and the wasm kernels beside them.
[ -x node_modules/.bin/esbuild ] || { echo "run-h100: node_modules/.bin/esbuild missing; run npm install" >&2; exit 1; }
ls build/fovea-kernels*.wasm >/dev/null 2>&1 || npm run build:wasm
rm -rf .dev/bench
mkdir -p .dev/bench/wasm
node_modules/.bin/esbuild bench/webgpu-gemm.ts bench/webgpu-models.ts bench/webgpu-fmnist.ts bench/webgpu-conv-layers.ts \
  --bundle --platform=node --format=esm --external:webgpu \
  --banner:js="import { createRequire as __foveaCreateRequire } from 'node:module'; const require = __foveaCreateRequire(import.meta.url);" \
  --outdir=.dev/bench --out-extension:.js=.mjs --log-level=warning
cp build/fovea-kernels*.wasm .dev/bench/wasm/
rm -rf .dev/bench/node_modules   # an older kit's webgpu shim: fovea now turns timestamp quantization off itself

# 3. Fashion-MNIST (the host has no network).
if [ -z "${FMNIST_DIR:-}" ]; then
  if ! dpkg -s dataset-fashion-mnist >/dev/null 2>&1; then
    echo "installing Debian's dataset-fashion-mnist"
    apt-get install -y dataset-fashion-mnist >/dev/null
  fi
  FMNIST_DIR=$(dirname "$(dpkg -L dataset-fashion-mnist | grep -m1 'train-images-idx3-ubyte')")
fi
mkdir -p .dev/data/fashion-mnist
for base in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  src="$FMNIST_DIR/$base.gz"
  [ -f "$src" ] || src="$FMNIST_DIR/$base"
  [ -f "$src" ] || { echo "run-h100: $FMNIST_DIR has no $base[.gz]" >&2; exit 1; }
  dst=".dev/data/fashion-mnist/$base.xz"
  if [ ! -s "$dst" ] || [ "$src" -nt "$dst" ]; then
    echo "compressing $base (xz -9e; the training images take about a minute)"
    if [[ $src == *.gz ]]; then gzip -dc "$src"; else cat "$src"; fi | xz -9e -c > "$dst.tmp" && mv "$dst.tmp" "$dst"
  fi
done

# 4. What the device call carries: tracked files, untracked files git does not ignore, the carried paths.
tracked=$(git ls-files -z | xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
untracked=$(git ls-files -z --others --exclude-standard | xargs -0 -r stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
carried=$(du -sb .dev/nodewg .dev/bench .dev/data | awk '{s += $1} END {print s}')
total=$((tracked + untracked + carried))
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
echo
echo "bundles:"
for f in .dev/bench/*.mjs; do echo "  $f $(mib "$(stat -c %s "$f")")"; done
echo "carried: .dev/nodewg $(mib "$(du -sb .dev/nodewg | cut -f1)"), .dev/bench $(mib "$(du -sb .dev/bench | cut -f1)"), .dev/data $(mib "$(du -sb .dev/data | cut -f1)")"
echo "the call carries $(mib "$total") of 64 MiB (tracked files $(mib "$tracked"), untracked not ignored $(mib "$untracked"), carried $(mib "$carried"))"
if [ "$total" -gt "$LIMIT" ]; then
  echo "run-h100: over the 64 MiB limit: commit or remove large untracked files, or carry less" >&2
  exit 1
fi
if [ -n "$(git status --porcelain -- bench/webgpu-gemm.ts bench/webgpu-models.ts bench/webgpu-fmnist.ts bench/gpu bench/peers)" ]; then
  echo "note: the bench sources differ from the last commit; the bundles hold the working tree's versions (bench/gpu/*.sh and *.py travel as they are)"
fi

cat <<'EOF'

On a session lent a GPU (the device tool's `status`: can_start_another true), make this ONE call
(about 8 minutes on the host; ~1-2 more to start the machine; everything lands in $OUT:
results.md, results.json, run.log, env.txt):

  run(kind="nvidia-h100-x1", timeout_s=600,
      carry=[".dev/nodewg", ".dev/bench", ".dev/data"],
      command="source .dev/nodewg/gpu-host-setup.sh && bash bench/gpu/on-host.sh")

then give_back. Copy the tables of results.md into bench/RESULTS.md's WebGPU section, with the
date, the device line of env.txt and the command.
EOF

#!/bin/sh
# Prints a folder holding OpenBLAS's libblas.so.3 for LD_LIBRARY_PATH, downloading Debian's
# libopenblas0-pthread into .bench-cache/openblas on first use (apt-get download + dpkg-deb -x:
# nothing is installed). Debian's python3-torch otherwise runs its im2col + GEMM conv path
# (1x1 convs at batch 1, one thread) and torch.mm on the reference BLAS (~4-5 GFLOP/s).
#   LD_LIBRARY_PATH=$(sh bench/peers/openblas.sh) /usr/bin/python3 ...
set -e
dest=.bench-cache/openblas
lib=$dest/usr/lib/x86_64-linux-gnu/openblas-pthread
if [ ! -f "$lib/libblas.so.3" ]; then
  mkdir -p "$dest"
  (cd "$dest" && apt-get download libopenblas0-pthread >&2 && dpkg-deb -x libopenblas0-pthread_*.deb .)
fi
cd "$lib" && pwd

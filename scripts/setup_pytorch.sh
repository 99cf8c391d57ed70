#!/usr/bin/env bash
# Installs PyTorch (CPU use only) into its own virtual environment under
# .echolab/pytorch-venv, for the side-by-side figures of
# `echolab bench training`. Run it by hand when you want the comparison;
# CI never does (the download is several gigabytes from plain PyPI, since
# PyTorch's own index is not reachable here).
#
#   scripts/setup_pytorch.sh
#   ECHOLAB_PYTORCH=.echolab/pytorch-venv/bin/python cargo run --release -- bench training
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.echolab/pytorch-venv"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --upgrade pip
"$venv/bin/python" -m pip install torch numpy
"$venv/bin/python" -c 'import torch; print("torch", torch.__version__, "threads", torch.get_num_threads())'
echo "ECHOLAB_PYTORCH=$venv/bin/python"

#!/usr/bin/env bash
# One GPU visit: homNIST at the reference architecture on the bundled digits
# (benchmarks/homnist.py --config gpu), several models at once on one GPU, each
# with the same pre-training time budget, plus the CUDA pickle fixtures.
#
#   bash benchmarks/gpu_homnist.sh RESULTS_DIR [PRETRAIN_SECONDS] [HEAD_SECONDS] [--set items...]
#
# (extra arguments are more --set overrides: a CPU smoke test passes a tiny
# architecture, e.g. niso.channels="(4,8)" niso.blocks_per_level="(1,1)").
#
# Small models leave a GPU mostly idle (per-step overhead dominates), so the
# models share it; each reports the steps it reached.  Results: one JSON-lines
# file and one log per model in RESULTS_DIR, fixtures in RESULTS_DIR/fixtures.
set -u
out=${1:?results directory}
pretrain=${2:-300}
head=${3:-60}
shift $(( $# < 3 ? $# : 3 ))
mkdir -p "$out/fixtures"
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} PYTHONUNBUFFERED=1
common=(--config gpu --seeds 0 --set "niso.max_time=$pretrain" "head.max_time=$head" mlp.max_steps=3000 cnn.max_steps=3000 "$@")
"$python" "$here/gpu_session.py" --out "$out/fixtures" --fixtures-only >"$out/fixtures.log" 2>&1 &
for model in niso niso_no_multiplicity niso_triplet ae_augmentation; do
    "$python" "$here/homnist.py" "${common[@]}" --models "$model" --out "$out/$model.jsonl" >"$out/$model.log" 2>&1 &
done
"$python" "$here/homnist.py" "${common[@]}" --models cnn_augmentation cnn --out "$out/cnn.jsonl" >"$out/cnn.log" 2>&1 &
wait
tail -n 3 "$out"/*.log

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
# Environment:
#   SEEDS="0"            seeds of the side-by-side models (one process per model, seeds in turn)
#   FIXTURES=1           also write the CUDA pickle fixtures (0: skip)
#   TEMPERATURE_RUNS=""  extra pairwise NIso runs, "SEED:T ...", each with niso.mask_temperature=T
#                        (e.g. "0:0.01 1:0.01"), one process each, into niso-T<T>-seed<SEED>.jsonl
#
# Small models leave a GPU mostly idle (per-step overhead dominates), so the
# models share it; each reports the steps it reached.  Results: one JSON-lines
# file and one log per process in RESULTS_DIR, fixtures in RESULTS_DIR/fixtures.
set -u
out=${1:?results directory}
pretrain=${2:-300}
head=${3:-60}
shift $(( $# < 3 ? $# : 3 ))
mkdir -p "$out"
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
read -r -a seeds <<<"${SEEDS:-0}"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} PYTHONUNBUFFERED=1
common=(--config gpu --set "niso.max_time=$pretrain" "head.max_time=$head" mlp.max_steps=3000 cnn.max_steps=3000 "$@")
if [ "${FIXTURES:-1}" != 0 ]; then
    mkdir -p "$out/fixtures"
    "$python" "$here/gpu_session.py" --out "$out/fixtures" --fixtures-only >"$out/fixtures.log" 2>&1 &
fi
for model in niso niso_no_multiplicity niso_triplet ae_augmentation; do
    "$python" "$here/homnist.py" --seeds "${seeds[@]}" "${common[@]}" --models "$model" \
        --out "$out/$model.jsonl" >"$out/$model.log" 2>&1 &
done
"$python" "$here/homnist.py" --seeds "${seeds[@]}" "${common[@]}" --models cnn_augmentation cnn \
    --out "$out/cnn.jsonl" >"$out/cnn.log" 2>&1 &
for run in ${TEMPERATURE_RUNS:-}; do
    seed=${run%%:*} temperature=${run#*:}
    "$python" "$here/homnist.py" --seeds "$seed" "${common[@]}" "niso.mask_temperature=$temperature" --models niso \
        --out "$out/niso-T$temperature-seed$seed.jsonl" >"$out/niso-T$temperature-seed$seed.log" 2>&1 &
done
wait
tail -n 3 "$out"/*.log

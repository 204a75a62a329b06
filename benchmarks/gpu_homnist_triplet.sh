#!/usr/bin/env bash
# One GPU visit: triplet NIso on three seeds against the plain and augmented CNN
# on the same seeds, side by side, at the reference architecture on the bundled
# digits (--config gpu, test protocol).
#
#   bash benchmarks/gpu_homnist_triplet.sh RESULTS_DIR [PRETRAIN_SECONDS] [--set items...]
#
# Each triplet run follows one annealed cosine schedule of 4,000 steps (1,000
# warm-up) and is scored at its end with the usual 3,000-step head and, beside
# it, a 10,000-step head (the head's budget); PRETRAIN_SECONDS (default 300)
# caps pre-training so the visit fits its device budget (a capped run is scored
# where it stopped, and says so).  The CNNs train for 3,000 steps, as in the
# earlier GPU tables.  Four processes share the GPU.  Extra arguments are more
# --set overrides (a CPU smoke test passes a tiny architecture and few steps).
set -u
out=${1:?results directory}
pretrain=${2:-300}
shift $(( $# < 2 ? $# : 2 ))
mkdir -p "$out"
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
steps=${STEPS:-4000}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-3} PYTHONUNBUFFERED=1
for seed in 0 1 2; do
    "$python" "$here/homnist_steps.py" --config gpu --model niso_triplet --seed "$seed" --steps "$steps" \
        --snapshots "$steps" --head-steps "${HEAD_STEPS:-10000}" \
        --set "niso.max_time=$pretrain" niso.warmup_steps=$((steps / 4)) head.max_steps=3000 head.warmup_steps=300 "$@" \
        --out "$out/triplet-seed$seed.jsonl" >"$out/triplet-seed$seed.log" 2>&1 &
done
"$python" "$here/homnist.py" --config gpu --seeds 0 1 2 --models cnn_augmentation cnn \
    --set cnn.max_steps="${CNN_STEPS:-3000}" "$@" --out "$out/cnn.jsonl" >"$out/cnn.log" 2>&1 &
wait
tail -n 4 "$out"/*.log

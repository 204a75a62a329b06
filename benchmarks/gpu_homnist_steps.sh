#!/usr/bin/env bash
# One GPU visit: homNIST accuracy against pre-training steps at the reference
# architecture (benchmarks/homnist_steps.py --config gpu), pairwise NIso on two
# seeds and triplet NIso on one, three processes sharing one GPU.
#
#   bash benchmarks/gpu_homnist_steps.sh RESULTS_DIR [PRETRAIN_SECONDS] [--set items...]
#
# Each run follows one cosine schedule (pairwise 9,000 steps, triplet 6,000) and is
# scored at geometric snapshots; PRETRAIN_SECONDS (default 370) caps pre-training so
# the visit fits its device budget (a capped run is also scored where it stopped).
# The heads get a fixed 3,000 steps (not a time cap), so snapshots compare.
set -u
out=${1:?results directory}
pretrain=${2:-370}
shift $(( $# < 2 ? $# : 2 ))
mkdir -p "$out"
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-4} PYTHONUNBUFFERED=1
common=(--config gpu --set "niso.max_time=$pretrain" head.max_steps=3000 head.warmup_steps=300 "$@")
for seed in 0 1; do
    "$python" "$here/homnist_steps.py" --model niso --seed "$seed" --steps 9000 --snapshots 1125 2250 4500 \
        "${common[@]}" --out "$out/steps-niso-seed$seed.jsonl" >"$out/steps-niso-seed$seed.log" 2>&1 &
done
"$python" "$here/homnist_steps.py" --model niso_triplet --seed 0 --steps 6000 --snapshots 1500 3000 \
    "${common[@]}" --out "$out/steps-niso_triplet-seed0.jsonl" >"$out/steps-niso_triplet-seed0.log" 2>&1 &
wait
tail -n 5 "$out"/*.log

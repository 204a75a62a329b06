#!/usr/bin/env bash
# --config paper for one NIso model and seed, spread over as many GPU visits as
# its 50,000 pre-training steps need (a visit lends 15 minutes of device time).
#
#   bash benchmarks/gpu_homnist_paper.sh RESULTS_DIR MNIST_DIR CHECKPOINT_IN [--set items...]
#
# MNIST_DIR holds full MNIST's idx files.  CHECKPOINT_IN holds the checkpoint
# pieces (<model>-seed<seed>.pt.part-NN) that the last visit left in its
# RESULTS_DIR; on the first visit it is empty or missing.  Each call:
#   1. continues the pre-training for PRETRAIN_SECONDS (default 450);
#   2. leaves the checkpoint in RESULTS_DIR, cut into 15 MiB pieces: the device
#      returns at most 8 files of 16 MiB each;
#   3. if the pre-training is finished by then and the call is younger than
#      HEAD_START_BY seconds (default 150), fits the 20,000-step head and scores
#      the 10,000 MNIST test digits under 32 Haar homographies each, appending
#      to RESULTS_DIR/homnist-paper.jsonl.  Otherwise the next call does it.
# MODEL (default niso, the pairwise regime) and SEED (default 0) pick the run.
# Extra arguments are --set overrides: give the same ones on every visit (the
# checkpoint refuses other settings).  A CPU smoke test passes a tiny model.
set -u
out=${1:?results directory}
mnist=${2:?MNIST idx directory}
carried=${3:?folder of the checkpoint pieces from the last visit, may be empty}
shift 3
mkdir -p "$out"
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
name="${MODEL:-niso}-seed${SEED:-0}.pt"
work=$(mktemp -d)
export PYTHONUNBUFFERED=1
if compgen -G "$carried/$name.part-*" >/dev/null; then
    cat "$carried/$name".part-* >"$work/$name"
fi
common=(--config paper --mnist-root "$mnist" --models "${MODEL:-niso}" --seeds "${SEED:-0}" --checkpoint-dir "$work")
"$python" "$here/homnist.py" "${common[@]}" --pretrain-only \
    --set niso.max_time="${PRETRAIN_SECONDS:-450}" "$@" 2>&1 | tee -a "$out/log.txt"
status=${PIPESTATUS[0]}
if [ -f "$work/$name" ]; then
    split -b 15M -d -a 2 "$work/$name" "$out/$name.part-"
fi
if [ "$status" = 0 ] && [ "$SECONDS" -lt "${HEAD_START_BY:-150}" ]; then
    "$python" "$here/homnist.py" "${common[@]}" --set "$@" --out "$out/homnist-paper.jsonl" 2>&1 | tee -a "$out/log.txt"
    status=${PIPESTATUS[0]}
elif [ "$status" = 0 ]; then
    echo "pre-training finished after ${SECONDS} s; call again for the head and the scores" | tee -a "$out/log.txt"
fi
exit "$status"

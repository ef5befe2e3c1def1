#!/bin/bash
# Render a run as a Slurm array job: one shard per array task, then merge.
#   sbatch deploy/slurm-array.sh          (edit the variables below first)
# Every task renders a disjoint block of whole scenes into $OUT/shard-I-of-N and marks it
# COMPLETE; resubmitting the array re-renders only what is missing. When all tasks are done:
#   bproc-factory merge $OUT/shard-*-of-* -o $OUT/dataset
#SBATCH --job-name=bproc-factory
#SBATCH --array=0-15                # 16 shards: N = SLURM_ARRAY_TASK_COUNT
#SBATCH --cpus-per-task=8
#SBATCH --mem=16G
#SBATCH --time=04:00:00
##SBATCH --gres=gpu:1               # uncomment on GPU nodes (then --device auto picks OptiX/CUDA)
set -euo pipefail

CONFIG=configs/demo.yaml            # paths as seen from the submit directory, on shared storage
OUT=/shared/datasets/demo-run
COUNT=100000
SEED=7

source .venv/bin/activate
bproc-factory render "$CONFIG" -o "$OUT" -n "$COUNT" --seed "$SEED" --shard env \
    --workers 2 --recycle-after 50 --device auto -q

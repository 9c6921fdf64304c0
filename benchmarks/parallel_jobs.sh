#!/bin/bash
# One job on every core vs two jobs of one thread each, side by side (what hydra/launcher=parallel
# hydra.launcher.jobs=2 does on a 2-core CPU), at preset=cifar_cpu: each job's training images/s
# (its last epoch's, from the progress line) and the wall time of the pair. Run it idle.
# usage: bash benchmarks/parallel_jobs.sh CIFAR10_JPG_DIR [REPEATS]
set -e
DATA=${1:?the CIFAR-10 folder (ImageFolder layout)}; REPEATS=${2:-2}
R=$(mktemp -d); trap 'rm -rf "$R"' EXIT
export WANDB_MODE=disabled
run() {  # threads name seed
  OMP_NUM_THREADS=$1 python src/train.py preset=cifar_cpu data.root="$DATA" trainer.max_epochs=2 \
    trainer.limit_train_batches=80 trainer.limit_val_batches=1 trainer.limit_test_batches=1 \
    hydra.run.dir="$R/$2" seed="$3" > "$R/$2.log" 2>&1
  grep -o "[0-9]* img/s" "$R/$2.log" | tail -1
}
for rep in $(seq "$REPEATS"); do
  t0=$(date +%s.%N); echo "alone, 2 threads: $(run 2 "a$rep" 0)"; t1=$(date +%s.%N)
  (echo "pair #1, 1 thread: $(run 1 "b1$rep" 0)") & (echo "pair #2, 1 thread: $(run 1 "b2$rep" 1)") & wait
  t2=$(date +%s.%N)
  echo "repeat $rep: one job $(echo "$t1 - $t0" | bc) s; two jobs side by side $(echo "$t2 - $t1" | bc) s"
done

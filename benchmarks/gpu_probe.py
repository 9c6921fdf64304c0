"""The GPU probe: one prepared call on the first machine with a GPU, to replace the estimates of
docs/reviews/gpu-review.md (issue 27) with measurements. Sections, each on its own:

    step    the paper net's SGD step (batch 128, 227 px): fp32, + cudnn.benchmark/TF32, bf16,
            + channels-last, + torch.compile (the model class, no Lightning)
    lrn     the LRN's share of an eager step: the net with and without its LRN layers
    syncs   host<->device syncs per training step of the real LightningModule through train()
    loader  the datamodule's training loader, img/s by num_workers, on the bundled sample
    cifar   one epoch of preset=cifar_cpu through src/train.py (wall time, summary.json's img/s)

    python benchmarks/gpu_probe.py --out DIR [--sections step,lrn] [--cifar DIR] [--smoke]

Writes DIR/probe.json and DIR/probe.md (section, setting, measured, expected). A failing
section writes its one-line error into the table and the probe goes on. Meant for ≤ 8 min on
one H100 (not yet timed on one);
`--smoke` runs every section on the CPU at tiny shapes in under a minute (tests/test_gpu_probe.py).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

import torch
import torch.nn.functional as F
from common import ROOT, git_sha
from common import machine as host
from torch.overrides import TorchFunctionMode

from alexnet import training  # noqa: E402  (common puts src/ on the path)
from alexnet.hydra_setup import compose_config  # noqa: E402
from alexnet.layers import LocalResponseNorm  # noqa: E402
from alexnet.model import AlexNet, AlexNetConfig  # noqa: E402

SECTIONS = ("step", "lrn", "syncs", "loader", "cifar")
SAMPLE = ROOT / "data" / "cifar10-sample"
COMPILE_CAP_S = 180  # Inductor on the paper net takes ~1 min on an H100; past this, skipped
HOST_READS = {"__bool__", "item", "__float__", "__int__", "__index__", "tolist", "cpu", "numpy"}

# The review's estimates (H100 SXM, batch 128, ±40 %), shown beside what the probe measures.
EXPECTED = {
    "fp32": "~16 ms, ~8k img/s (est., as docs/guide.md's paper command ran)",
    "fp32_fast": "not estimated (between the fp32 and bf16 rows)",
    "bf16": "~11.6 ms, ~11k img/s (est., the fp16 trainer=gpu row)",
    "bf16_cl": "~10.6 ms, ~12k img/s (est.)",
    "compile": "~6.6 ms, ~19k img/s (est., LRN fused)",
    "lrn_fp32": "eager ~35 % of an fp32 step (est.); fused: ~13x less LRN memory traffic",
    "lrn_bf16": "eager 35-40 % of an AMP step, lrn=false ~1.6x faster (est.); fused: a few %",
    "syncs": "~9-10 per step (est., by reading; 0 after item 3 of issue 27)",
    "loader": "32-px sample: far above the GPU's need; 256 px on a 2-core VM measured "
              "0 workers 25k, 1-2 workers ~4.5k img/s (review D5)",
    "cifar": "preset: 25-30k img/s (est., host-bound); ~2 s/epoch + ~8-10 s per job",
}


class Timeout(Exception):
    pass


def row(section: str, setting: str, value: float | None, measured: str, expected: str) -> dict:
    return {"section": section, "setting": setting, "value": value, "measured": measured,
            "expected": expected}


def one_line(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".strip().splitlines()
    return text[0][:200] if text else type(error).__name__


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


# -- step and lrn: the model class, a bare SGD loop --------------------------------------------
def paper_net(args, **switches) -> AlexNet:
    """The paper's net at 227 px; --smoke: the CIFAR stem at 24 px, an eighth of the widths."""
    if args.smoke:
        return AlexNet(AlexNetConfig(num_classes=10, input_size=24, stem="cifar", width=0.125,
                                     **switches))
    return AlexNet(AlexNetConfig(**switches))


def time_step(args, net: torch.nn.Module, bf16: bool, channels_last: bool) -> float:
    """Seconds per SGD step (forward, loss, backward, step) after warm-up, GPU work included."""
    device, size = args.device, net.config.input_size
    net = net.to(device).train()
    x = torch.randn(args.batch, 3, size, size, device=device)
    y = torch.randint(0, 10, (args.batch,), device=device)
    if channels_last:
        layout = torch.channels_last
        net, x = net.to(memory_format=layout), x.contiguous(memory_format=layout)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()

    for _ in range(args.warmup):
        step()
    sync(device)
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    sync(device)
    return (time.perf_counter() - start) / args.steps


@contextlib.contextmanager
def fast_settings(on: bool):
    """cudnn.benchmark and TF32 matmuls/convs: what the shipped configs leave off (D4)."""
    saved = (torch.backends.cudnn.benchmark, torch.backends.cuda.matmul.allow_tf32,
             torch.backends.cudnn.allow_tf32)
    torch.backends.cudnn.benchmark = torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on
    try:
        yield
    finally:
        (torch.backends.cudnn.benchmark, torch.backends.cuda.matmul.allow_tf32,
         torch.backends.cudnn.allow_tf32) = saved


def rate(args, seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms/step, {args.batch / seconds:,.0f} img/s"


def section_step(args) -> list[dict]:
    rows = []
    settings = (("fp32", "fp32, as shipped (cudnn.benchmark off, no TF32)", False, False, False),
                ("fp32_fast", "fp32 + cudnn.benchmark + TF32", False, False, True),
                ("bf16", "bf16 autocast + cudnn.benchmark, NCHW", True, False, True),
                ("bf16_cl", "bf16 autocast + cudnn.benchmark + channels-last", True, True, True))
    for key, setting, bf16, cl, fast in settings:
        torch.manual_seed(0)
        with fast_settings(fast):
            s = time_step(args, paper_net(args), bf16, cl)
        rows.append(row("step", setting, args.batch / s, rate(args, s), EXPECTED[key]))
    rows.append(compiled_step(args))
    return rows


def compiled_step(args) -> dict:
    """bf16 + channels-last + torch.compile, the compile (in the warm-up) capped by SIGALRM.
    --smoke compiles with aot_eager: the same tracing, no C++ build on a 2-core CPU."""
    backend = "aot_eager" if args.smoke else "inductor"
    setting = f"bf16 + channels-last + torch.compile ({backend})"
    cap = 60 if args.smoke else COMPILE_CAP_S

    def alarm(*_):
        raise Timeout

    torch.manual_seed(0)
    net = paper_net(args)
    net.compile(backend=backend)
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(cap)
    start = time.perf_counter()
    try:
        with fast_settings(True):
            s = time_step(args, net, bf16=True, channels_last=True)
    except Timeout:
        return row("step", setting, None, f"skipped (time): compile + warm-up passed {cap} s",
                   EXPECTED["compile"])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        torch._dynamo.reset()
    total = time.perf_counter() - start
    return row("step", setting, args.batch / s,
               f"{rate(args, s)} (compile + warm-up + timed: {total:.0f} s)", EXPECTED["compile"])


def section_lrn(args) -> list[dict]:
    """The same net with model.lrn=false (its LRN layers left out, i.e. identity) against it with
    them, at the same precision and layout: the share of a step the LRN costs, eager and (on
    CUDA, where it is the default) fused by Inductor."""
    rows = []
    settings = (("lrn_fp32", "fp32 (cudnn.benchmark + TF32)", False, False),
                ("lrn_bf16", "bf16 + channels-last", True, True))
    arms = (("eager", True, False), ("fused", True, True), ("none", False, None))
    for key, setting, bf16, cl in settings:
        times = {}
        with fast_settings(True):
            for name, lrn, fused in arms:
                if fused and args.device.type != "cuda":
                    continue  # the fused LRN is the CUDA path; the CPU keeps the eager one
                torch.manual_seed(0)
                net = paper_net(args, lrn=lrn)
                for m in net.modules():
                    if isinstance(m, LocalResponseNorm):
                        m.fused = fused
                times[name] = time_step(args, net, bf16, cl)
        share = 100 * (1 - times["none"] / times["eager"])
        measured = (f"eager: {share:.0f} % of the step ({times['eager'] * 1e3:.2f} ms with LRN, "
                    f"{times['none'] * 1e3:.2f} without: {times['eager'] / times['none']:.2f}x)")
        if "fused" in times:
            fused_share = 100 * (1 - times["none"] / times["fused"])
            measured += (f"; fused: {fused_share:.0f} % ({times['fused'] * 1e3:.2f} ms, "
                         f"{times['eager'] / times['fused']:.2f}x the eager step's speed"
                         + (", FELL BACK to eager: no kernel built)" if LocalResponseNorm.fused_failed
                            else ")"))
        else:
            measured += "; fused: not run (CPU)"
        rows.append(row("lrn", setting, share, measured, EXPECTED[key]))
    return rows


# -- syncs and loader: the platform's own module and datamodule ---------------------------------
def compose(*overrides: str):
    return compose_config(ROOT, *overrides)


class HostReads(TorchFunctionMode):
    """CPU stand-in for the CUDA sync debug mode: counts the tensor methods that would make a
    GPU wait for the host (`.item()`, `bool(t)`, `float(t)`, `.tolist()`, `.cpu()`, ...)."""

    def __init__(self, seen: list):
        super().__init__()
        self.seen = seen

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in HOST_READS:
            frame = sys._getframe(1)
            self.seen.append(f"{Path(frame.f_code.co_filename).name}:{frame.f_lineno}")
        return func(*args, **(kwargs or {}))


class SyncCounter:
    """A Lightning callback: the host syncs seen between one training batch's start and the
    next's — the whole step, loader fetch, transfer, augmentation and every hook included."""

    def __init__(self, device: torch.device):
        import lightning as L

        outer = self
        self.device, self.seen, self.marks = device, [], []

        class Callback(L.Callback):
            def on_train_start(self, trainer, pl_module):
                outer.start()

            def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
                outer.marks.append(len(outer.seen))

            def on_train_end(self, trainer, pl_module):
                outer.stop()

        self.callback = Callback()
        self.mode = HostReads(self.seen)

    def start(self):
        if self.device.type == "cuda":
            torch.cuda.set_sync_debug_mode("warn")
        else:
            self.mode.__enter__()

    def stop(self):
        if self.device.type == "cuda":
            torch.cuda.set_sync_debug_mode("default")
        elif self.mode in torch.overrides._get_current_function_mode_stack():
            self.mode.__exit__(None, None, None)

    def record(self, message: warnings.WarningMessage) -> None:
        if "synchroniz" in str(message.message):
            self.seen.append(f"{Path(message.filename).name}:{message.lineno}")


def section_syncs(args) -> list[dict]:
    """train() on the bundled sample (trainer=gpu on CUDA) with a counter callback added to the
    platform's own."""
    cuda = args.device.type == "cuda"
    method = ("torch.cuda.set_sync_debug_mode('warn'), warnings counted" if cuda
              else "CPU stand-in: .item/bool/float/int/tolist/cpu calls (TorchFunctionMode)")
    counter = SyncCounter(args.device)
    cfg = compose(f"trainer={'gpu' if cuda else 'cpu'}", "trainer.max_epochs=1",
                  f"trainer.limit_train_batches={4 if args.smoke else 12}",
                  "trainer.limit_val_batches=1", "logger.wandb.enabled=false",
                  "callbacks.progress_bar=none", "data.holdout=null", "data.train_eval=null",
                  *(["debug=tiny"] if args.smoke else []))
    build_callbacks = training.build_callbacks
    training.build_callbacks = lambda *a, **k: [*build_callbacks(*a, **k), counter.callback]
    try:
        with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            training.train(cfg, Path(tmp) / "run")
            for message in caught:
                counter.record(message)
    finally:
        training.build_callbacks = build_callbacks
        counter.stop()
    marks = counter.marks[1:]  # the first step warms up
    per_step = [b - a for a, b in zip(marks, marks[1:], strict=False)]
    if not per_step:
        raise RuntimeError(f"only {len(counter.marks)} training steps ran")
    steady = Counter(counter.seen[marks[0]:marks[-1]])
    where = ", ".join(f"{k} ×{v}" for k, v in steady.most_common(4))
    median = statistics.median(per_step)
    return [row("syncs", f"trainer={cfg.trainer.accelerator} ({cfg.trainer.precision}), {method}",
                median, f"{median:g} per step (median of {len(per_step)}); top sources: "
                f"{where or 'none'}", EXPECTED["syncs"])]


def section_loader(args) -> list[dict]:
    """The training loader as the datamodule builds it (pinned on CUDA), a second pass timed:
    the first starts the (persistent) workers."""
    rows = []
    dm = training.build_datamodule(compose("data.holdout=null", "data.train_eval=null"))
    dm.prepare_data()
    dm.setup("fit")
    for workers in (0, 2) if args.smoke else (0, 2, 4, 8):
        dm.num_workers = workers
        loader = dm.train_dataloader()
        for _ in loader:
            pass
        start, images = time.perf_counter(), 0
        for x, _ in loader:
            images += len(x)
        seconds = time.perf_counter() - start
        setting = f"num_workers={workers}, sample {tuple(x.shape[1:])} uint8, batch {dm.batch_size}"
        rows.append(row("loader", setting, images / seconds,
                        f"{images / seconds:,.0f} img/s ({images} images)", EXPECTED["loader"]))
        del loader  # its persistent workers with it
    return rows


def section_cifar(args) -> list[dict]:
    """One epoch of preset=cifar_cpu as a user runs it: a subprocess of src/train.py."""
    root = args.cifar or SAMPLE
    if args.cifar and not args.cifar.is_dir():
        return [row("cifar", "preset=cifar_cpu, 1 epoch", None,
                    f"skipped: --cifar {args.cifar} is not a directory", EXPECTED["cifar"])]
    with tempfile.TemporaryDirectory() as tmp:  # the run's checkpoints stay out of --out
        return cifar_run(args, root, Path(tmp))


def cifar_run(args, root: Path, run_dir: Path) -> list[dict]:
    command = [sys.executable, "src/train.py", "preset=cifar_cpu", f"data.root={root.resolve()}",
               "trainer.max_epochs=1", "recipe.schedule=plateau",  # one epoch: no budget's drops
               "logger.wandb.enabled=false", "callbacks.progress_bar=none",
               "resume=false", f"hydra.run.dir={run_dir}",
               *(["debug=tiny"] if args.smoke else [])]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=args.cifar_cap)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"src/train.py exited {done.returncode}: {tail[:160]}")
    summary = json.loads(next(run_dir.rglob("summary.json")).read_text())
    ips = summary.get("images_per_sec")
    data = "full CIFAR-10" if args.cifar else "the bundled sample"
    return [row("cifar", f"preset=cifar_cpu, 1 epoch on {data}{' (debug=tiny)' * args.smoke}",
                ips, f"{wall:.1f} s wall (summary {summary.get('wall_time_s')} s), "
                f"{ips or 0:,.0f} img/s in training", EXPECTED["cifar"])]


# -- the run ------------------------------------------------------------------------------------
def machine(device: torch.device) -> dict:
    gpu = {}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        query = ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]
        driver = subprocess.run(query, capture_output=True, text=True).stdout.strip()
        gpu = {"gpu": props.name, "gpu_memory_gib": round(props.total_memory / 2**30, 1),
               "driver": driver or "?", "cuda": torch.version.cuda}
    return {"device": str(device), **gpu, "torch": torch.__version__, "cpus": os.cpu_count(),
            "host": host(),
            "python": platform.python_version(), "commit": git_sha()}


def markdown(result: dict) -> str:
    m = result["machine"]
    lines = [f"# GPU probe, {result['date']}{' (smoke)' if result['smoke'] else ''}", "",
             ", ".join(f"{k} {v}" for k, v in m.items()), "",
             "| section | setting | measured | expected (review estimate) |", "|---|---|---|---|"]
    for r in result["rows"]:
        cells = (r[k].replace("|", "\\|") for k in ("section", "setting", "measured", "expected"))
        lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="folder for probe.json and probe.md")
    names = ",".join(SECTIONS)
    p.add_argument("--sections", default=names, help=f"a subset of {names}")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--cifar", type=Path, help="full CIFAR-10 (python batches or class folders)")
    p.add_argument("--cifar-cap", type=int, default=240, help="seconds allowed to the cifar run")
    p.add_argument("--smoke", action="store_true", help="every section on the CPU at tiny shapes")
    args = p.parse_args(argv)
    args.sections = [s for s in args.sections.split(",") if s]
    unknown = [s for s in args.sections if s not in SECTIONS]
    if unknown or not args.sections:
        p.error(f"--sections {unknown[0] if unknown else '(empty)'} is not one of {names}")
    if args.smoke:
        args.device = "cpu"
    try:
        args.device = torch.device(args.device)
    except RuntimeError:
        p.error(f"--device {args.device} is not a torch device (cuda, cuda:0, cpu)")
    if args.device.type == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: no CUDA device here; use --device cpu or --smoke")
    args.batch, args.warmup, args.steps = (4, 1, 2) if args.smoke else (128, 10, 40)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("WANDB_MODE", "disabled")
    result = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "smoke": args.smoke,
              "machine": machine(args.device), "sections": {}, "rows": []}
    for name in args.sections:
        start = time.perf_counter()
        try:
            rows = globals()[f"section_{name}"](args)
        except Exception as error:  # the probe goes on: the table says what failed
            rows = [row(name, "error", None, f"error: {one_line(error)}", "")]
        seconds = time.perf_counter() - start
        result["sections"][name] = {"seconds": round(seconds, 1), "rows": rows}
        result["rows"] += rows
        print(f"{name}: {seconds:.1f} s", *(f"  {r['setting']}: {r['measured']}" for r in rows),
              sep="\n", flush=True)
        (args.out / "probe.json").write_text(json.dumps(result, indent=1) + "\n")
        (args.out / "probe.md").write_text(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

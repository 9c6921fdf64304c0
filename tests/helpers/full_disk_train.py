"""`python tests/helpers/full_disk_train.py JOB_DIR_PART [train.py args]`: src/train.py with a disk
that fills up while the job whose directory name contains JOB_DIR_PART writes its second
epoch's checkpoint — half the file written, then ENOSPC — and refuses every record write of that
job from then on. Other jobs see a normal disk (space freed between jobs)."""

import errno
import runpy
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "src"))  # this checkout's package, as `python src/train.py` gets it

import alexnet.record  # noqa: E402

job_part = sys.argv.pop(1)
full = False
real_save, real_write = torch.save, alexnet.record.atomic_write_text


def save(obj, f, *args, **kwargs):
    global full
    if job_part in str(getattr(f, "name", f)) and isinstance(obj, dict) and obj.get("epoch", 0) >= 1:
        full = True
        f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")
    return real_save(obj, f, *args, **kwargs)


def write(path, text):
    if full and job_part in str(path):
        raise OSError(errno.ENOSPC, "No space left on device")
    return real_write(path, text)


torch.save, alexnet.record.atomic_write_text = save, write
sys.argv[0] = str(REPO / "src" / "train.py")
runpy.run_path(sys.argv[0], run_name="__main__")

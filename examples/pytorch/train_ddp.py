#!/usr/bin/env python3
"""A small but real data-parallel training job: PyTorch DDP on CPU with the gloo backend.

Nothing in it knows about Argus: `argus-run torchrun --nproc_per_node 2 train_ddp.py` or
`argus-run mpirun -np 2 python3 train_ddp.py` observes it unchanged (the optimizer hook marks
one step per optimizer.step()).

    torchrun --nproc_per_node 2 examples/pytorch/train_ddp.py --steps 5
    mpirun -np 2 python3 examples/pytorch/train_ddp.py --steps 5
"""

import argparse
import os
import sys

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP


def rank_env():
    """RANK/WORLD_SIZE from torchrun, or Open MPI's / Slurm's variables under mpirun/srun."""
    rank = os.environ.get("RANK") or os.environ.get("OMPI_COMM_WORLD_RANK") or os.environ.get("PMI_RANK") or os.environ.get("SLURM_PROCID")
    world = os.environ.get("WORLD_SIZE") or os.environ.get("OMPI_COMM_WORLD_SIZE") or os.environ.get("PMI_SIZE") or os.environ.get("SLURM_NTASKS")
    if rank is None or world is None:
        return 0, 1
    return int(rank), int(world)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=5, help="optimizer steps (default 5)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    rank, world = rank_env()
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29531")
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)

    torch.manual_seed(args.seed)  # same initial weights on every rank (DDP broadcasts anyway)
    model = nn.Sequential(nn.Linear(64, args.hidden), nn.ReLU(), nn.Linear(args.hidden, 10))
    ddp = DDP(model)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(args.seed * 1000 + rank)  # each rank its own shard

    for step in range(args.steps):
        x = torch.randn(args.batch, 64, generator=gen)
        y = torch.randint(0, 10, (args.batch,), generator=gen)
        opt.zero_grad()
        loss = loss_fn(ddp(x), y)
        loss.backward()  # gradients all-reduced over gloo
        opt.step()
        if rank == 0:
            print(f"step {step} loss {loss.item():.4f}", flush=True)

    # Every rank must end with the same weights: check it, so a broken job cannot pass.
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    check = flat.clone()
    dist.all_reduce(check)
    if not torch.allclose(check / world, flat, atol=1e-5):
        print(f"rank {rank}: weights diverged across ranks", file=sys.stderr)
        return 1
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())

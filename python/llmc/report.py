"""What the compiler decided, kernel by kernel: `llmc explain` as Python objects.

An artifact carries the report of the model it holds (the JSON of
`llmc explain --format json` for its target); Executable.report() returns it
as a Report.
"""

import json
from dataclasses import dataclass, field
from typing import List, Optional


@dataclass
class Kernel:
    """One kernel: a fusion group (kind loop, row or column), a library call
    (kind library, with its graph op) or an op that runs alone (kind op)."""
    name: str
    kind: str
    nodes: List[str]
    bytes_in: int
    bytes_out: int
    flops: int
    estimated_us: float
    bound: str                  # "memory" or "compute", by the roofline model
    op: Optional[str] = None


@dataclass
class Report:
    target: str
    kernels: List[Kernel] = field(default_factory=list)
    bytes: int = 0
    flops: int = 0
    estimated_us: float = 0.0
    peak_memory_bytes: int = 0
    # A partitioned program's plan (None for one device): the dict of
    # `llmc explain --format json`'s "sharding": mesh, strategy, per tensor
    # "sharding" and "reason", "collectives" with bytes and seconds on the
    # link, weight bytes in all and per device, "memory_per_device". The
    # kernels and peak memory above are then one device's.
    sharding: Optional[dict] = None
    # A dynamic artifact (compile(..., dynamic=...)): its dims, each a dict
    # of "name", "min", "max", "padded" and "why" (why not padded), and its
    # variants, each a dict of "sizes" and the estimate "seconds", "bytes",
    # "flops", "peak_bytes". The kernels above are the largest variant's.
    dynamic: Optional[list] = None
    variants: Optional[list] = None

    @property
    def collectives(self):
        """The collectives of a partitioned program (empty otherwise)."""
        return list((self.sharding or {}).get("collectives", []))

    @classmethod
    def from_json(cls, text):
        d = json.loads(text)
        kernels = [Kernel(name=k["name"], kind=k["kind"], nodes=list(k["nodes"]),
                          bytes_in=k["bytes_in"], bytes_out=k["bytes_out"],
                          flops=k["flops"], estimated_us=k["estimated_us"],
                          bound=k["bound"], op=k.get("op"))
                   for k in d["kernels"]]
        s = d["summary"]
        return cls(target=d["target"], kernels=kernels, bytes=s["bytes"],
                   flops=s["flops"], estimated_us=s["estimated_us"],
                   peak_memory_bytes=s["peak_memory_bytes"],
                   sharding=d.get("sharding"), dynamic=d.get("dynamic"),
                   variants=d.get("variants"))

    def __str__(self):
        lines = []
        if self.sharding:
            p = self.sharding
            lines.append(f"mesh {p['mesh']} ({p['devices']} devices)  strategy "
                         f"{p['strategy']}")
            for t in p["tensors"]:
                lines.append(f"  tensor {t['name']} ({t['kind']})  {t['sharding']}  "
                             f"{t['reason']}")
            for c in p["collectives"]:
                lines.append(f"  collective {c['kind']} of {c['tensor']} over "
                             f"{c['axis']} before {c['user']}  {c['bytes']} B  "
                             f"{c['seconds'] * 1e6:.2f} us")
            lines.append(f"collectives: {len(p['collectives'])}  weights per device: "
                         f"{p['weight_bytes_per_device']} of {p['weight_bytes_total']} B")
        lines.append(f"target {self.target}")
        for k in self.kernels:
            what = k.kind + (f" {k.op}" if k.op else "")
            lines.append(f"{k.name}  {what}  in {k.bytes_in} B  out {k.bytes_out} B  "
                         f"{k.flops} FLOP  {k.estimated_us:.2f} us ({k.bound})  "
                         f"nodes: {' '.join(k.nodes)}")
        lines.append(f"kernels: {len(self.kernels)}  bytes: {self.bytes}  "
                     f"flops: {self.flops}  estimated: {self.estimated_us:.2f} us  "
                     f"peak memory: {self.peak_memory_bytes / 1048576:.2f} MB")
        return "\n".join(lines)

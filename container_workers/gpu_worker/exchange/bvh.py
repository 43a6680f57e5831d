"""BVH files of the shared skeleton: write one from rotations, parse any back into rotations and root positions.

Root convention (Blender's): the root OFFSET is its rest position and its position channels are absolute.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from container_workers.common import skeleton

ROTATION_ORDER = "ZXY"  # channels "Zrotation Xrotation Yrotation": R = Rz @ Rx @ Ry
_ROTATION_CHANNELS = " ".join(f"{axis}rotation" for axis in ROTATION_ORDER)


@dataclass
class Bvh:
    """A parsed BVH: joints (parents before children), their offsets and channels, and the motion table."""

    names: list[str]
    parents: list[int]  # -1 for the root
    offsets: np.ndarray  # (J, 3) file units
    channels: list[list[str]]
    end_sites: dict[str, np.ndarray]
    frame_time: float
    motion: np.ndarray  # (T, total channels)

    @property
    def frames(self) -> int:
        """Number of frames."""
        return len(self.motion)

    def _columns(self, j: int) -> range:
        start = sum(len(c) for c in self.channels[:j])
        return range(start, start + len(self.channels[j]))

    def local_rotations(self) -> np.ndarray:
        """Each joint's rotation relative to its parent, (T, J, 3, 3), from its rotation channels in file order."""
        out = np.tile(np.eye(3), (self.frames, len(self.names), 1, 1))
        for j, chans in enumerate(self.channels):
            cols = [c for c, name in zip(self._columns(j), chans) if name.endswith("rotation")]
            if cols:
                order = "".join(name[0].upper() for name in chans if name.endswith("rotation"))
                out[:, j] = Rotation.from_euler(order, self.motion[:, cols], degrees=True).as_matrix()
        return out

    def root_positions(self) -> np.ndarray:
        """The root joint's position per frame (T, 3) in file units (rest offset when it has no position channels)."""
        pos = np.tile(self.offsets[0], (self.frames, 1))
        for c, name in zip(self._columns(0), self.channels[0]):
            if name.endswith("position"):
                pos[:, "XYZ".index(name[0].upper())] = self.motion[:, c]
        return pos


def write_bvh(
    path: Path, local_rot: np.ndarray, root_pos: np.ndarray, fps: float, offsets: np.ndarray | None = None
) -> None:
    """Write the shared skeleton's motion: local rotations (T, J, 3, 3) and Hips positions (T, 3) in metres.

    J is the body's joint count, or body and fingers (`skeleton.names(hands=True)`) for a BVH with hands.
    `offsets` (J, 3) in metres replace the standard rest offsets (a performer's own bone lengths).
    """
    scale = skeleton.BVH_UNITS_PER_METRE
    hands = skeleton.has_hands(local_rot.shape[1])
    off = skeleton.offsets(scale, hands) if offsets is None else offsets * scale
    rest = off[:1] if offsets is not None else skeleton.rest_positions(scale, hands)
    ends = skeleton.end_sites(hands)
    lines = ["HIERARCHY"]
    order: list[int] = []  # joints in file (depth-first) order; fingers come right after their hand

    def emit(name: str, depth: int) -> None:
        pad = "  " * depth
        j = skeleton.INDEX[name]
        order.append(j)
        parent = skeleton.PARENTS[name]
        offset = rest[0] if parent is None else off[j]
        lines.append(f"{pad}{'ROOT' if parent is None else 'JOINT'} {name}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}  OFFSET {offset[0]:.6f} {offset[1]:.6f} {offset[2]:.6f}")
        position = "Xposition Yposition Zposition " if parent is None else ""
        lines.append(f"{pad}  CHANNELS {6 if parent is None else 3} {position}{_ROTATION_CHANNELS}")
        kids = skeleton.children(name, hands)
        for child in kids:
            emit(child, depth + 1)
        if not kids:
            end = np.array(ends[name]) * scale
            lines.extend(
                [
                    f"{pad}  End Site",
                    f"{pad}  {{",
                    f"{pad}    OFFSET {end[0]:.6f} {end[1]:.6f} {end[2]:.6f}",
                    f"{pad}  }}",
                ]
            )
        lines.append(f"{pad}}}")

    emit(skeleton.NAMES[0], 0)
    T, nj = local_rot.shape[:2]
    euler = Rotation.from_matrix(local_rot.reshape(-1, 3, 3)).as_euler(ROTATION_ORDER, degrees=True).reshape(T, nj, 3)
    euler = np.unwrap(euler, period=360.0, axis=0)  # no 360-degree jumps between frames
    table = np.concatenate([root_pos * scale, euler[:, order].reshape(T, -1)], axis=1)
    lines += ["MOTION", f"Frames: {T}", f"Frame Time: {1.0 / fps:.8f}"]
    body = "\n".join(" ".join(f"{v:.5f}" for v in row) for row in table)
    path.write_text("\n".join(lines) + "\n" + body + "\n")


def parse_bvh(path: Path) -> Bvh:
    """Parse a BVH file (any joint names, channel orders and End Sites)."""
    tokens = path.read_text().split()
    pos = 0

    def take() -> str:
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    names, parents, offsets, channels, end_sites = [], [], [], [], {}
    if take() != "HIERARCHY":
        raise ValueError("not a BVH file: no HIERARCHY")
    stack: list[int] = []
    while True:
        tok = take()
        if tok in ("ROOT", "JOINT"):
            names.append(take())
            parents.append(stack[-1] if stack else -1)
            channels.append([])
            offsets.append(None)
            stack.append(len(names) - 1)
        elif tok == "End":
            take()  # "Site"
            take()  # "{"
            take()  # "OFFSET"
            end_sites[names[stack[-1]]] = np.array([float(take()) for _ in range(3)])
            take()  # "}"
        elif tok == "OFFSET":
            offsets[stack[-1]] = [float(take()) for _ in range(3)]
        elif tok == "CHANNELS":
            channels[stack[-1]] = [take() for _ in range(int(take()))]
        elif tok == "}":
            stack.pop()
        elif tok == "MOTION":
            break
    take()  # "Frames:"
    frames = int(take())
    take(), take()  # "Frame" "Time:"
    frame_time = float(take())
    width = sum(len(c) for c in channels)
    values = np.array(tokens[pos : pos + frames * width], dtype=np.float64)
    if len(values) != frames * width:
        raise ValueError(f"BVH motion has {len(values)} values, expected {frames * width}")
    return Bvh(
        names,
        parents,
        np.array(offsets, dtype=np.float64),
        channels,
        end_sites,
        frame_time,
        values.reshape(frames, width),
    )

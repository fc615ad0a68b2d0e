"""The sandbox behind the filesystem tools: every path stays inside one root.

Paths are relative to the root (a leading ``/`` means the root, as in a virtual
filesystem). Any ``..`` component is refused, and the fully resolved path (symlinks
followed) must still be inside the root, so a symlink pointing outside cannot be
used to read or write there.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from agents.errors import ToolError

__all__ = ["Workspace"]


class Workspace:
    """A directory the agent may read and write.

    Args:
        root: The directory (created if missing).
        max_read_bytes: Largest file ``read_file`` returns.
    """

    def __init__(
        self, root: str | os.PathLike[str], *, max_read_bytes: int = 1_000_000
    ) -> None:
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_read_bytes = max_read_bytes

    def resolve(self, path: str) -> Path:
        """Map a workspace path to a real path inside the root.

        Raises:
            ToolError: For ``..``, NUL bytes, or a path escaping the root.
        """
        if "\x00" in path:
            raise ToolError("Invalid path")
        rel = PurePosixPath(path.replace("\\", "/").strip() or ".")
        if ".." in rel.parts:
            raise ToolError(
                f"Path {path!r} is outside the workspace ('..' is not allowed)"
            )
        parts = [p for p in rel.parts if p not in ("/", ".")]
        real = self.root.joinpath(*parts).resolve()
        if real != self.root and self.root not in real.parents:
            raise ToolError(f"Path {path!r} is outside the workspace")
        return real

    def display(self, real: Path) -> str:
        """The workspace path of a real path (``/`` separated, root-relative)."""
        rel = real.relative_to(self.root).as_posix()
        return "/" if rel == "." else "/" + rel

    def walk(self, start: Path) -> list[Path]:
        """Files under ``start`` that resolve inside the root, sorted."""
        found = []
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames.sort()
            for name in sorted(filenames):
                candidate = Path(dirpath, name)
                try:
                    real = candidate.resolve()
                except OSError:
                    continue
                if self.root in real.parents:
                    found.append(candidate)
        return found

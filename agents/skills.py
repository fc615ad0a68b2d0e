"""Skills folders: ``<dir>/<skill>/SKILL.md`` files with ``name``/``description``
front matter, disclosed progressively.

Every skill's name and description are listed in the system prompt; the full body of
a skill is added only when the user's latest message shares words with its name or
description (the original Oris rule), so long instructions cost tokens only when they
are relevant.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Skill",
    "load_skills",
    "parse_front_matter",
    "relevant_skills",
    "skills_prompt",
]

_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "for",
        "from",
        "how",
        "i",
        "in",
        "into",
        "is",
        "it",
        "me",
        "my",
        "of",
        "on",
        "or",
        "please",
        "should",
        "that",
        "the",
        "this",
        "to",
        "use",
        "used",
        "using",
        "what",
        "when",
        "with",
        "you",
        "your",
    ]
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Skill:
    """One skill.

    Args:
        name: From the front matter (default: the folder name).
        description: From the front matter.
        path: The SKILL.md file.
        body: Instructions after the front matter.
    """

    name: str
    description: str
    path: str
    body: str

    @property
    def keywords(self) -> frozenset[str]:
        """Words of the name and description used for matching."""
        return _words(
            self.name.replace("-", " ").replace("_", " ") + " " + self.description
        )


def parse_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Split ``---``-delimited ``key: value`` front matter from the body.

    Args:
        text: File content.

    Returns:
        ``(metadata, body)``; metadata is empty when there is no front matter.
    """
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return {}, text
    meta: dict[str, str] = {}
    for i, line in enumerate(lines[1:], 1):
        if line.strip() == "---":
            return meta, "\n".join(lines[i + 1 :]).strip()
        key, sep, value = line.partition(":")
        if sep and key.strip():
            meta[key.strip()] = value.strip().strip("'\"")
    return {}, text


def load_skills(dirs: Iterable[str | os.PathLike[str]]) -> list[Skill]:
    """Read every ``SKILL.md`` directly inside each directory's subfolders.

    Args:
        dirs: Skills directories (a directory holding SKILL.md itself also counts).

    Returns:
        Skills sorted by name; later directories override earlier same-named ones.
    """
    found: dict[str, Skill] = {}
    for directory in dirs:
        base = Path(directory)
        candidates = [base / "SKILL.md", *sorted(base.glob("*/SKILL.md"))]
        for path in candidates:
            if not path.is_file():
                continue
            meta, body = parse_front_matter(path.read_text(encoding="utf-8"))
            name = meta.get("name") or path.parent.name
            found[name] = Skill(
                name=name,
                description=meta.get("description", ""),
                path=str(path),
                body=body,
            )
    return [found[k] for k in sorted(found)]


def _words(text: str) -> frozenset[str]:
    return frozenset(
        w for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in _STOPWORDS
    )


def relevant_skills(
    skills: Sequence[Skill], text: str, *, limit: int = 3
) -> list[Skill]:
    """Skills sharing words with ``text``, most overlap first.

    Args:
        skills: Candidates.
        text: Usually the latest user message.
        limit: At most this many.

    Returns:
        The matching skills.
    """
    words = _words(text)
    scored = [(len(words & s.keywords), s.name, s) for s in skills]
    ranked = sorted((t for t in scored if t[0] > 0), key=lambda t: (-t[0], t[1]))
    return [s for _, _, s in ranked[:limit]]


def skills_prompt(skills: Sequence[Skill], text: str) -> str:
    """The ``## Skills`` prompt section for a user message (``""`` without skills)."""
    if not skills:
        return ""
    lines = ["## Skills", "Available skills (full instructions load when relevant):"]
    lines += [f"- {s.name}: {s.description}" for s in skills]
    for skill in relevant_skills(skills, text):
        lines += ["", f"### {skill.name}", skill.body]
    return "\n".join(lines)

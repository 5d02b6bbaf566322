"""The languages a model covers, from its metadata.json: `polytag languages` prints them and the
README's table is generated from the same function.

metadata["languages"] (written by scripts/refresh_languages.py when a model is shipped):
    [{"code": "de", "name": "German", "treebanks": ["de_gsd"], "dev": {"upos": 94.1, "ufeats": 88.0} | null}]
A model folder without it still lists its languages, from metadata["treebanks"], without scores.
"""

from __future__ import annotations

import json

from .evaluate import macro


def languages_from_scores(treebanks: dict[str, dict], names: dict[str, str], dev_files: dict[str, dict]) -> list[dict]:
    """treebanks: metadata["treebanks"] (id -> {"language": code, ...}); names: code -> name;
    dev_files: `polytag evaluate --json` "files" (key "<id>-ud-dev" -> scores)."""
    by_code: dict[str, list[str]] = {}
    for tb_id, info in sorted(treebanks.items()):
        by_code.setdefault(info.get("language") or tb_id.split("_")[0], []).append(tb_id)
    table = []
    for code, ids in sorted(by_code.items(), key=lambda kv: names.get(kv[0], kv[0])):
        scored = {i: dev_files[f"{i}-ud-dev"] for i in ids if f"{i}-ud-dev" in dev_files}
        table.append({"code": code, "name": names.get(code, code), "treebanks": ids,
                      "dev_treebanks": sorted(scored), "dev": macro(scored) if scored else None})
    return table


def model_languages(metadata: dict) -> list[dict]:
    if metadata.get("languages"):
        return metadata["languages"]
    return languages_from_scores(metadata.get("treebanks", {}), {}, {})


def format_languages(table: list[dict], style: str = "text") -> str:
    if style == "json":
        return json.dumps(table, indent=1, ensure_ascii=False)
    rows = [(t["name"], t["code"], ", ".join(t["treebanks"]),
             f"{t['dev']['upos']:.2f}" if t["dev"] else "-", f"{t['dev']['ufeats']:.2f}" if t["dev"] else "-")
            for t in table]
    head = ("language", "code", "treebanks", "dev UPOS", "dev UFeats")
    if style == "markdown":
        lines = ["| " + " | ".join(head) + " |", "|---|---|---|---:|---:|"]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in [head, *rows])

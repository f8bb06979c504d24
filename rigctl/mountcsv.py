"""The header shared by scenario CSVs and replay traces: ``t_s`` then one column per mount."""

from __future__ import annotations

from collections.abc import Iterator, Sequence


class MountCsvError(ValueError):
    """Bad CSV input; the message names the file, the row and the column."""


def read_header(
    reader: Iterator[list[str]],
    mount_names: Sequence[str],
    source: str,
    error: type[MountCsvError],
    prefixes: Sequence[str] = (),
) -> tuple[int, dict[str, int], dict[str, dict[str, int]]]:
    """(row width, load column per mount, {prefix: column per mount}) from row 1.

    Every mount needs a load column; a column ``<prefix><mount>`` (e.g.
    ``fault:bar_a_left``) is optional. Unknown and repeated columns are errors.
    """
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise error(f"{source}: empty file; expected a header 't_s,<mount>...'") from None
    if not header or header[0] != "t_s":
        raise error(f"{source}: row 1: the first column must be 't_s'")
    names = list(mount_names)
    loads: dict[str, int] = {}
    extra: dict[str, dict[str, int]] = {p: {} for p in prefixes}
    for col, h in enumerate(header[1:], start=1):
        prefix = next((p for p in prefixes if h.startswith(p)), None)
        target = loads if prefix is None else extra[prefix]
        name = h if prefix is None else h.removeprefix(prefix)
        if name not in names:
            raise error(f"{source}: row 1, column '{h}': unknown mount; the rig has "
                        f"{', '.join(names)}")
        if name in target:
            raise error(f"{source}: row 1, column '{h}': given twice")
        target[name] = col
    missing = [n for n in names if n not in loads]
    if missing:
        raise error(f"{source}: row 1: missing load column(s) {', '.join(missing)}")
    return len(header), loads, extra

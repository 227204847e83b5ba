"""The one way sizes are written for readers: issue files, progress lines, metadata, logs."""


def human_size(size: int | float | None) -> str:
    """Bytes for readers: "980 B", "250.8 KiB", "3.1 MiB"; GiB is the largest unit."""
    if size is None:
        return "unknown size"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"

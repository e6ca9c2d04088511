"""Test helper: rewrite a VCF through htslib (cyvcf2's Writer), e.g. as BCF or BGZF."""

from __future__ import annotations

from pathlib import Path


def htslib_copy(src: Path, dst: Path, mode: str) -> Path:
    """Every record of ``src`` written to ``dst`` by htslib; ``mode`` as cyvcf2's Writer takes
    it (``"wb"`` BCF, ``"wz"`` BGZF-compressed VCF). Returns ``dst``."""
    import cyvcf2

    reader = cyvcf2.VCF(str(src))
    writer = cyvcf2.Writer(str(dst), reader, mode=mode)
    for v in reader:
        writer.write_record(v)
    writer.close()
    reader.close()
    return dst

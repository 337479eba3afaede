"""``interp.report.provenance.cpu_model``: the CPU model and vector extensions every timing
record carries, so that runs on two hosts of the same "2 cores" can be told apart."""

from __future__ import annotations

from pathlib import Path

from interp.report.provenance import VECTOR_EXTENSIONS, cpu_model, machine

X86 = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 9R14
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512bw avx512_vnni avx512_bf16 sha_ni
processor\t: 1
model name\t: AMD EPYC 9R14
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512bw avx512_vnni avx512_bf16 sha_ni
"""

ARM = """processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics sve
CPU implementer\t: 0x41
"""


def test_reads_the_model_and_the_extensions_kernels_depend_on(tmp_path: Path) -> None:
    f = tmp_path / "cpuinfo"
    f.write_text(X86)
    got = cpu_model(f)
    assert got["cpu_model"] == "AMD EPYC 9R14"
    # in VECTOR_EXTENSIONS order; flags outside it (sse2, sha_ni) and plain "avx" left out
    assert got["vector_extensions"] == ["avx2", "fma", "avx512f", "avx512bw", "avx512_vnni",
                                        "avx512_bf16"]  # fmt: skip
    f.write_text(ARM)
    assert cpu_model(f) == {"cpu_model": None, "vector_extensions": ["asimd", "sve"]}


def test_absent_or_empty_cpuinfo(tmp_path: Path) -> None:
    assert cpu_model(tmp_path / "missing") == {"cpu_model": None, "vector_extensions": []}
    (tmp_path / "empty").write_text("")
    assert cpu_model(tmp_path / "empty") == {"cpu_model": None, "vector_extensions": []}


def test_machine_carries_them() -> None:
    m = machine()
    assert {"cpu_model", "vector_extensions"} <= m.keys()
    assert set(m["vector_extensions"]) <= set(VECTOR_EXTENSIONS)
    if Path("/proc/cpuinfo").is_file() and "model name" in Path("/proc/cpuinfo").read_text():
        assert m["cpu_model"]

"""harness/cell/environment.py: what the platform column records about the CPU."""
from pathlib import Path

from _rngdrift.harness.cell import environment

DATA = Path(__file__).parent / "data" / "cpuinfo"


def test_cpu_info_reads_the_first_processor_block():
    vendor, model, flags = environment.cpu_info(str(DATA / "amd-epyc.txt"))
    assert (vendor, model) == ("AuthenticAMD", "AMD EPYC")
    assert "avx512bw" in flags and "fpu" in flags and len(flags) > 3  # not processor 1's


def test_isa_level_follows_torchs_dispatch_levels():
    _, _, amd = environment.cpu_info(str(DATA / "amd-epyc.txt"))
    _, _, intel = environment.cpu_info(str(DATA / "intel-xeon-avx2.txt"))
    assert environment.isa_level(amd) == "avx512"
    assert environment.isa_level(intel) == "avx2"
    assert environment.isa_level({"avx512f", "avx2", "fma", "avx"}) == "avx2"  # no BW/VL/DQ
    assert environment.isa_level({"sse2"}) == "baseline"
    assert environment.isa_level(set()) == "?"


def test_cpu_info_without_proc_cpuinfo_is_empty(tmp_path):
    assert environment.cpu_info(str(tmp_path / "absent")) == ("", "", set())


def test_platform_text_names_machine_vendor_isa_and_torchs_cpu_path():
    text = environment.platform_text()
    fields = dict(part.split("=", 1) for part in text.split("; ")[1:])
    assert text.startswith(environment.machine_text() + "; ")
    assert set(fields) == {"cpu", "vendor", "isa", "torch-cpu", "blas", "mkl", "mkldnn"}
    import torch
    assert fields["torch-cpu"] == torch.backends.cpu.get_cpu_capability()
    assert fields["mkldnn"] in ("0", "1")
    assert fields["mkl"] == "0" or fields["mkl"][0].isdigit()

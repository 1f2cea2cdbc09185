"""How each kind of difference is graded and shown: package sources, drivers, CUDA, system packages, conda,
the facts that are never compared, and the facts whose absence on one side counts (docs/compare-json.md)."""

from __future__ import annotations

import copy

import pytest

from envcapture import compare
from envcapture.compare import rules

from .conftest import edited

COMMIT_A, COMMIT_B = "a" * 40, "b" * 40


def diff(a: dict, b: dict, **kw) -> list:
    return compare.compare([a, b], ["a", "b"], **kw).differences


def only(a: dict, b: dict, **kw) -> compare.Difference:
    found = diff(a, b, **kw)
    assert len(found) == 1, [(d.what, d.values) for d in found]
    return found[0]


def with_source(base: dict, **source) -> dict:
    def edit(m):
        next(p for p in m["python_packages"] if p["name"] == "six")["source"] = source
    return edited(base, edit)


# --- Python package sources -------------------------------------------------------------------------------

@pytest.mark.parametrize("a, b, grade", [
    # The same commit of the same repository: only the subdirectory (another package) differs.
    (dict(kind="vcs", url="git+https://example.org/r.git", commit=COMMIT_A),
     dict(kind="vcs", url="git+https://example.org/r.git", commit=COMMIT_A, subdirectory="sub"), "error"),
    (dict(kind="vcs", url="git+https://example.org/r.git", commit=COMMIT_A),
     dict(kind="vcs", url="git+https://example.org/fork.git", commit=COMMIT_A), "error"),
    # Same repository, commit and subdirectory: a recorded hash on one side only does not change the code.
    (dict(kind="vcs", url="git+https://example.org/r.git", commit=COMMIT_A),
     dict(kind="vcs", url="git+https://example.org/r.git", commit=COMMIT_A, hash="sha256=" + "c" * 64), "warning"),
    # Same URL, other bytes.
    (dict(kind="archive", url="https://a.example.org/six.whl", hash="sha256=" + "c" * 64),
     dict(kind="archive", url="https://a.example.org/six.whl", hash="sha256=" + "d" * 64), "error"),
    # The same bytes (hash) fetched from another mirror.
    (dict(kind="archive", url="https://a.example.org/six.whl", hash="sha256=" + "c" * 64),
     dict(kind="archive", url="https://b.example.org/six.whl", hash="sha256=" + "c" * 64), "warning"),
    # A local folder at another path, the same commit checked out: the same code.
    (dict(kind="directory", url="file:///home/a/six", checkout={"commit": COMMIT_A, "dirty": False}),
     dict(kind="directory", url="file:///home/b/six", checkout={"commit": COMMIT_A, "dirty": False}), "warning"),
    (dict(kind="editable", url="file:///home/a/six", checkout={"commit": COMMIT_A, "dirty": False}),
     dict(kind="editable", url="file:///home/a/six", checkout={"commit": COMMIT_B, "dirty": False}), "error"),
    # No commit known on one side: nothing says the code differs.
    (dict(kind="editable", url="file:///home/a/six", checkout={"commit": COMMIT_A, "dirty": False}),
     dict(kind="editable", url="file:///home/b/six"), "warning"),
    (dict(kind="editable", url="file:///home/a/six"),
     dict(kind="editable", url="file:///home/b/six", checkout={"commit": COMMIT_A, "dirty": False}), "warning"),
    # Another index.
    (dict(kind="index"), dict(kind="index", url="https://mirror.example.org/simple"), "error"),
    (dict(kind="directory", url="file:///home/a/six"), dict(kind="editable", url="file:///home/a/six"), "error"),
])
def test_package_source_grades(base, a, b, grade):
    d = only(with_source(base, **a), with_source(base, **b))
    assert (d.section, d.item, d.field, d.what, d.grade, d.change) == \
        ("python_packages", "six", "source", "six (source)", grade, "changed")
    d = only(with_source(base, **b), with_source(base, **a))
    assert d.grade == grade


def test_a_dirty_checkout_alone_is_not_a_difference_but_is_shown(base):
    clean = with_source(base, kind="directory", url="file:///a", checkout={"commit": COMMIT_A, "dirty": False})
    dirty = with_source(base, kind="directory", url="file:///a", checkout={"commit": COMMIT_A, "dirty": True})
    assert diff(clean, dirty) == []
    moved = with_source(base, kind="directory", url="file:///b", checkout={"commit": COMMIT_A, "dirty": True})
    assert only(clean, moved).values == [f"directory file:///a@{'a' * 12}", f"directory file:///b@{'a' * 12} (dirty)"]


def test_a_source_is_shown_kind_url_commit_subdirectory_hash(base):
    vcs = with_source(base, kind="vcs", url="git+https://example.org/r.git", commit=COMMIT_A, subdirectory="pkg/six",
                      hash="sha256=" + "0123456789" * 6 + "abcd")
    d = only(with_source(base, kind="index"), vcs)
    assert d.values == ["index", f"vcs git+https://example.org/r.git@{'a' * 12} subdirectory=pkg/six "
                                 "sha256=0123456789012345"]
    commit_only = with_source(base, kind="vcs", commit=COMMIT_B)
    assert only(base, commit_only).values == ["index", f"vcs@{'b' * 12}"]


# --- GPU --------------------------------------------------------------------------------------------------

def test_a_fact_absent_on_one_side_is_missing_or_extra_not_changed(base):
    # docs/compare-json.md: `change` is seen from the first manifest; scripts tell "gone" from "other value".
    nodriver = edited(base, lambda m: m["gpu"].update(driver=None))
    assert only(nodriver, base).change == "extra"
    assert only(base, nodriver).change == "missing"
    assert only(base, edited(base, lambda m: m["gpu"]["driver"].update(version="999.1"))).change == "changed"


def test_a_driver_where_none_was_recorded_is_a_warning(base):
    nodriver = edited(base, lambda m: m["gpu"].update(driver=None))
    d = only(nodriver, base)
    assert (d.what, d.grade, d.values) == ("driver", "warning", [None, "580.65.06"])


def test_the_same_driver_written_otherwise_is_a_warning(base):
    """580.65.6 is not older than 580.65.06: compared as numbers, not text."""
    other = edited(base, lambda m: m["gpu"]["driver"].update(version="580.65.6"))
    assert only(base, other).grade == "warning"


def test_a_second_toolkit_of_the_same_major_is_a_warning_of_another_major_an_error(base):
    same_major = edited(base, lambda m: m["gpu"]["toolkits"].append(
        {"path": "/usr/local/cuda-13.1", "version": "13.1", "nvcc_version": None, "source": "version.json"}))
    d = only(base, same_major)
    assert (d.what, d.grade, d.values) == ("CUDA toolkit", "warning", ["13.0", "13.0, 13.1"])
    other_major = edited(base, lambda m: m["gpu"]["toolkits"].append(
        {"path": "/usr/local/cuda-12.8", "version": "12.8", "nvcc_version": None, "source": "version.json"}))
    assert only(base, other_major).grade == "error"


def test_no_toolkit_where_one_was_recorded_is_an_error(base):
    none = edited(base, lambda m: m["gpu"].update(toolkits=[]))
    d = only(base, none)
    assert (d.what, d.grade, d.values) == ("CUDA toolkit", "error", ["13.0", "(none)"])


def test_a_framework_built_for_another_cuda_major(base):
    def framework(cuda):
        # As freeze records torch from its metadata (tests/fixtures/manifests/cuda-11.8.json).
        return lambda m: m["gpu"]["frameworks"].append(
            {"name": "Torch", "version": "2.11.0", "cuda": cuda, "cudnn": None, "rocm": None, "source": "metadata",
             "runtime": None})
    recorded = edited(base, framework("13.0"))
    d = only(recorded, edited(base, framework("12.8")))
    assert (d.section, d.item, d.field, d.what, d.grade) == ("gpu", "torch", "cuda", "torch CUDA", "error")
    assert only(recorded, edited(base, framework("13.1"))).grade == "warning"


def test_a_sections_own_facts_come_before_its_items(base):
    """In the GPU table: the driver, then each framework's CUDA (the order of the JSON differences too)."""
    def older(m):
        m["gpu"]["driver"]["version"] = "550.54.15"
        m["gpu"]["frameworks"].append({"name": "torch", "version": "2.11.0", "cuda": "12.8", "cudnn": None,
                                       "rocm": None, "source": "metadata", "runtime": None})
    recorded = edited(base, lambda m: m["gpu"]["frameworks"].append(
        {"name": "torch", "version": "2.11.0", "cuda": "13.0", "cudnn": None, "rocm": None, "source": "metadata",
         "runtime": None}))
    assert [d.what for d in diff(recorded, edited(base, older))] == ["driver", "torch CUDA"]


def test_gpu_model_count_and_compute_capability_are_warnings(base):
    def second_gpu(m):
        device = copy.deepcopy(m["gpu"]["devices"][0])
        device.update(index=1, name="NVIDIA A100-SXM4-80GB", compute_capability="8.0")
        m["gpu"]["devices"].append(device)
    found = {d.what: d for d in diff(base, edited(base, second_gpu))}
    assert {what: d.grade for what, d in found.items()} == {"GPUs": "warning", "compute capability": "warning"}
    assert found["GPUs"].values == ["NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-80GB, NVIDIA H100 80GB HBM3"]
    assert found["compute capability"].values == ["9.0", "8.0, 9.0"]


def test_no_gpu_section_where_one_was_recorded(base):
    nogpu = edited(base, lambda m: m.update(gpu=None))
    found = {d.what: d for d in diff(base, nogpu)}
    assert found["driver"].grade == "error" and found["driver"].values == ["580.65.06", None]
    assert set(found) == {"driver"}  # vendor, devices, toolkits, cuDNN: not known without a GPU section


# --- system packages, conda, OS ------------------------------------------------------------------------------

def test_a_package_installed_for_two_architectures_is_compared_per_architecture(base):
    def i386(m):
        m["system_packages"]["packages"].append({"name": "libc6", "version": "2.36-9+deb12u4",
                                                 "architecture": "i386", "manual": False})
    multiarch = edited(base, i386)
    found = diff(multiarch, edited(multiarch, lambda m: m["system_packages"]["packages"][-1].update(
        version="2.36-9+deb12u9")))
    assert [(d.item, d.grade, d.values) for d in found] == [("libc6:i386", "warning",
                                                            ["2.36-9+deb12u4", "2.36-9+deb12u9"])]


def test_a_manual_package_shows_it_and_only_the_version_counts(base):
    def packages(m):
        return {p["name"]: p for p in m["system_packages"]["packages"]}
    marked = edited(base, lambda m: packages(m)["libc6"].update(manual=True))
    assert diff(base, marked) == []  # marking a package manual changes nothing installed
    newer = edited(base, lambda m: packages(m)["git"].update(version="1:2.39.5-0+deb12u1"))
    assert only(base, newer).values == ["1:2.39.2-1.1 (manual)", "1:2.39.5-0+deb12u1 (manual)"]


def test_another_package_manager_is_an_error_sources_a_warning(base):
    found = {d.what: d.grade for d in diff(base, edited(base, lambda m: m["system_packages"].update(
        manager="rpm", sources=["deb http://deb.debian.org/debian trixie main"])))}
    assert found["package manager"] == "error" and found["package sources"] == "warning"


# Shaped like tests/fixtures/manifests/conda-env.json.
CONDA = {"prefix": "~/miniforge3/envs/ml", "name": "ml", "conda_version": "24.9.2",
         "channels": ["https://conda.anaconda.org/conda-forge"],
         "packages": [{"name": "numpy", "version": "2.1.3", "build": "py311h_0", "build_number": 0,
                       "channel": "conda-forge", "subdir": "linux-64", "url": None, "md5": None, "sha256": None,
                       "requested_spec": None}], "explicit_specs": []}


def with_conda(base: dict, **change) -> dict:
    conda = copy.deepcopy(CONDA)
    conda.update(change)
    return edited(base, lambda m: m.update(conda=conda))


def test_conda_environment_missing_is_an_error_and_so_are_its_packages(base):
    environment, package = diff(with_conda(base), base)
    assert (environment.section, environment.what, environment.grade, environment.values) == \
        ("conda", "conda environment", "error", ["ml", None])
    assert (package.section, package.item, package.grade, package.change, package.values) == \
        ("conda", "numpy", "error", "missing", ["2.1.3 py311h_0", None])


def test_conda_build_is_part_of_the_version_channels_a_warning(base):
    rebuilt = with_conda(base, packages=[dict(CONDA["packages"][0], build="py311h_1")])
    d = only(with_conda(base), rebuilt)
    assert (d.section, d.item, d.grade, d.values) == ("conda", "numpy", "error",
                                                       ["2.1.3 py311h_0", "2.1.3 py311h_1"])
    d = only(with_conda(base), with_conda(base, channels=["https://repo.anaconda.com/pkgs/main"]))
    assert (d.what, d.grade) == ("conda channels", "warning")


def test_an_unnamed_conda_environment_is_named_for_the_reader(base):
    assert diff(with_conda(base, name=None), base)[0].values == ["conda environment", None]


@pytest.mark.parametrize("field, recorded, now, what, grade", [
    ("system", "Linux", "Darwin", "operating system", "error"),
    ("machine", "x86_64", "aarch64", "architecture", "error"),
    ("container", None, "docker", "container", "warning"),
    ("container", "docker", None, "container", "warning"),
    ("wsl", False, True, "WSL", "warning"),
])
def test_os_facts(base, field, recorded, now, what, grade):
    d = only(edited(base, lambda m: m["os"].update({field: recorded})),
             edited(base, lambda m: m["os"].update({field: now})))
    assert (d.section, d.what, d.grade) == ("os", what, grade)


def test_libc_is_its_name_and_version_and_a_warning(base):
    d = only(base, edited(base, lambda m: m["os"]["libc"].update(version="2.41")))
    assert (d.what, d.grade, d.values) == ("libc", "warning", ["glibc 2.36", "glibc 2.41"])


# --- Python, hardware, determinism, code ---------------------------------------------------------------

def test_python_implementation_is_an_error_its_origin_a_warning(base):
    d = only(base, edited(base, lambda m: m["python"].update(implementation="pypy")))
    assert (d.what, d.grade) == ("implementation", "error")
    d = only(base, edited(base, lambda m: m["python"].update(origin="distro")))
    assert (d.what, d.grade, d.values) == ("Python origin", "warning", ["pyenv", "distro"])


def test_python_minor_version_across_an_older_and_a_newer_release(base):
    """3.11.7 -> 3.10.7 and 3.11.7 -> 3.12.7: another minor version either way, whatever the patch."""
    for version in ("3.10.7", "3.12.7", "4.11.7"):
        assert only(base, edited(base, lambda m: m["python"].update(version=version))).grade == "error"


def test_only_cpu_flags_that_change_numerics_are_compared(base):
    noise = edited(base, lambda m: m["hardware"].update(flags=m["hardware"]["flags"] + ["ht", "pni", "avx_vnni_x"]))
    assert diff(base, noise) == []
    for flag in ("avx512bw", "amx_tile", "sve2", "f16c"):
        d = only(base, edited(base, lambda m: m["hardware"].update(flags=m["hardware"]["flags"] + [flag])))
        assert (d.what, d.grade) == ("CPU flags", "warning") and flag in d.values[1]


def test_cores_and_cpu_vendor_are_warnings(base):
    found = {d.what: d for d in diff(base, edited(base, lambda m: m["hardware"].update(
        physical_cores=64, logical_cores=128, vendor="AuthenticAMD")))}
    assert {w: d.grade for w, d in found.items()} == {"CPU vendor": "warning", "physical cores": "warning",
                                                     "logical cores": "warning"}
    assert found["physical cores"].values == ["56", "64"]


def test_memory_is_shown_in_whole_gib(base):
    d = only(base, edited(base, lambda m: m["hardware"].update(memory_total=1024 * 2**30)))
    assert (d.what, d.values) == ("memory", [f"{round(2164194574336 / 2**30)} GiB", "1024 GiB"])


def test_a_determinism_variable_set_on_one_side_only_is_a_warning(base):
    unset = edited(base, lambda m: m["determinism"]["environment"].update(PYTHONHASHSEED=None))
    d = only(base, unset)
    assert (d.section, d.item, d.what, d.grade, d.values) == ("determinism", "PYTHONHASHSEED", "PYTHONHASHSEED",
                                                              "warning", ["0", None])
    threads = edited(base, lambda m: m["determinism"]["threads"].update(OMP_NUM_THREADS=16))
    d = only(base, threads)
    assert (d.item, d.field, d.what, d.grade, d.values) == ("OMP_NUM_THREADS", "threads", "OMP_NUM_THREADS",
                                                             "warning", ["8", "16"])


def test_code_commit_and_uncommitted_changes_are_warnings(base):
    found = {d.what: d for d in diff(base, edited(base, lambda m: m["code"].update(commit=COMMIT_B, dirty=True)))}
    assert {w: d.grade for w, d in found.items()} == {"code commit": "warning",
                                                      "code has uncommitted changes": "warning"}
    assert found["code has uncommitted changes"].values == ["no", "yes"]


def test_no_code_section_on_one_side_is_not_known_not_a_difference(base):
    assert diff(base, edited(base, lambda m: m.update(code=None))) == []


# --- the rules themselves, where no manifest can reach them ---------------------------------------------

def test_grade_functions_at_their_edges():
    assert rules.python_version_grade(None, "3.11.7") == rules.python_version_grade("3.11.7", None) == "error"
    assert rules.major_grade(["12.4", "13.0"], ["13.0", "12.8"]) == "warning"
    assert rules.major_grade("12.4", None) == "error"
    assert rules.source_grade(None, {"kind": "index"}) == rules.source_grade({"kind": "index"}, None) == "error"
    assert rules.system_package_grade({"version": "1", "manual": False}, None) == "warning"
    assert rules.system_package_grade({"version": "1", "manual": True}, None) == "error"
    assert rules.show_source(None) is None and rules.show_system_package(None) is None
    assert rules.show_memory(None) is None


# --- many manifests, what is not compared, what a kit leaves out --------------------------------------------

def test_in_a_cluster_any_pair_that_is_an_error_makes_the_row_an_error(base):
    """The old driver on the first node: 580 -> 550 is an error read in either direction."""
    old = edited(base, lambda m: m["gpu"]["driver"].update(version="550.54.15"))
    result = compare.compare([old, base, base], ["n1", "n2", "n3"])
    assert [(d.what, d.grade, d.change) for d in result.differences] == [("driver", "error", "changed")]
    newer = edited(base, lambda m: m["gpu"]["driver"].update(version="590.10.01"))
    result = compare.compare([base, newer, newer], ["n1", "n2", "n3"])
    assert [(d.what, d.grade) for d in result.differences] == [("driver", "error")]  # n1 is older than n2, n3


def test_in_a_cluster_memory_a_few_mib_apart_is_one_value(base):
    nodes = [edited(base, lambda m, i=i: m["hardware"].update(memory_total=64 * 2**30 - i * 2**20)) for i in range(3)]
    assert compare.compare(nodes, ["n1", "n2", "n3"]).same
    nodes.append(edited(base, lambda m: m["hardware"].update(memory_total=32 * 2**30)))
    [d] = compare.compare(nodes, ["n1", "n2", "n3", "n4"]).differences
    assert (d.what, d.grade, d.values) == ("memory", "warning", ["64 GiB", "64 GiB", "64 GiB", "32 GiB"])


def test_a_determinism_variable_absent_on_one_side(base):
    gone = edited(base, lambda m: m["determinism"]["environment"].pop("PYTHONHASHSEED"))
    d = only(base, gone)
    assert (d.item, d.grade, d.values) == ("PYTHONHASHSEED", "warning", ["0", None])
    d = only(gone, base)
    assert (d.item, d.grade, d.values) == ("PYTHONHASHSEED", "warning", [None, "0"])


def test_by_design_names_a_multiarch_package_by_its_name(base):
    def i386(m):
        m["system_packages"]["packages"].append({"name": "libc6", "version": "2.36-9+deb12u4",
                                                 "architecture": "i386", "manual": True})
    multiarch = edited(base, i386)
    image = edited(multiarch, lambda m: m["system_packages"]["packages"][-1].update(version="2.36-9+deb12u9"))
    why = "system packages of another distribution's base"
    d = only(multiarch, image, by_design={("system_packages", "libc6"): why})
    assert (d.item, d.grade, d.by_design) == ("libc6:i386", "warning", why)
    assert only(multiarch, image).grade == "error"


def test_by_design_is_about_items_only(base):
    d = only(base, edited(base, lambda m: m["os"].update(id="ubuntu")),
             by_design={("os", ""): "never", ("os", "id"): "never"})
    assert (d.grade, d.by_design) == ("error", None)


def test_what_is_not_compared_and_why(base):
    def lost(section):
        def edit(m):
            m["warnings"].append({"source": section, "message": f"could not collect {section}: OSError: boom"})
        return edit
    a = edited(base, lost("gpu"))
    b = edited(base, lambda m: (lost("gpu")(m), lost("hardware")(m), m["warnings"].append(
        {"source": "x", "message": "could not collect filesystem: OSError: boom"})))
    result = compare.compare([a, b], ["a", "b"], skip={"hardware": "an image cannot tell"})
    # The first manifest that lost a section names it; a reason given by the caller wins; sections that are
    # never compared are not listed.
    assert result.not_compared == {"hardware": "an image cannot tell", "gpu": "not collected in a"}
    assert result.sources == ["a", "b"]  # no sources given: the labels


def test_warnings_that_are_not_about_a_lost_section_change_nothing(base):
    noted = edited(base, lambda m: m["warnings"].append({"source": "gpu", "message": "nvidia-smi is slow"}))
    assert compare.compare([base, noted], ["a", "b"]).not_compared == {}


def test_the_order_lists_were_recorded_in_is_not_a_difference(base):
    def add_more(m):
        m["system_packages"]["sources"].append("deb http://deb.debian.org/debian-security bookworm-security main")
        device = copy.deepcopy(m["gpu"]["devices"][0])
        device.update(index=1, name="NVIDIA A100-SXM4-80GB", compute_capability="8.0")
        m["gpu"]["devices"].append(device)
        m["gpu"]["toolkits"].append({"path": "/usr/local/cuda-12.8", "version": "12.8", "nvcc_version": None,
                                     "source": "version.json"})
        m["gpu"]["cudnn"].append({"version": "8.9.7", "path": None, "source": "wheel"})
    fuller = edited(base, add_more)

    def reverse(m):
        for section, key in (("system_packages", "sources"), ("gpu", "devices"), ("gpu", "toolkits"), ("gpu", "cudnn"),
                             ("hardware", "flags"), ("system_packages", "packages")):
            m[section][key].reverse()
        m["python_packages"].reverse()
    assert diff(fuller, edited(fuller, reverse)) == []
